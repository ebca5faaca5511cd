using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Cluster.Wire;

// One-way throughput of activation-sized messages between two endpoints on loopback, in MiB/s:
// Akka.Remote (AkkaActivationTransport, window 4), the TCP data plane (TcpActivationTransport) and a raw socket.
// Usage: dotnet run -c Release --project benchmarks/ShareLoRA.Cluster.Benchmarks [-- totalMiBPerCase]
//        dotnet run -c Release --project benchmarks/ShareLoRA.Cluster.Benchmarks -- tls [totalMiBPerCase]
//          (each path with mutual TLS vs without, certificates from a throw-away cluster CA)
int[] sizesMiB = [1, 4, 16];
if (args.Length > 0 && args[0] == "tls")
{
    var tlsTotal = args.Length > 1 ? int.Parse(args[1]) : 128;
    using var ca = ClusterCertificates.CreateAuthority("bench CA");
    var tlsA = ClusterTls.Create(ClusterCertificates.IssueNode(ca, "a", []), ca);
    var tlsB = ClusterTls.Create(ClusterCertificates.IssueNode(ca, "b", []), ca);
    Console.WriteLine($"one-way throughput on 127.0.0.1, {tlsTotal} MiB per case, mutual TLS (ECDSA P-256) vs plain (MiB/s)");
    Console.WriteLine($"{"size",6} {"tcp plane",12} {"tcp+TLS",12} {"akka.remote",12} {"akka+TLS",12}");
    foreach (var sizeMiB in sizesMiB)
    {
        var size = sizeMiB << 20;
        var count = Math.Max(4, tlsTotal / sizeMiB);
        var tcp = await MeasureTransport("tcp", size, count);
        var tcpTls = await MeasureTransport("tcp", size, count, tlsA, tlsB);
        var akka = await MeasureTransport("akka", size, count);
        var akkaTls = await MeasureTransport("akka", size, count, tlsA, tlsB);
        Console.WriteLine($"{sizeMiB + " MiB",6} {tcp,12:0} {tcpTls,12:0} {akka,12:0} {akkaTls,12:0}");
    }
    return;
}
var totalMiB = args.Length > 0 ? int.Parse(args[0]) : 128;

Console.WriteLine($"one-way throughput on 127.0.0.1, {totalMiB} MiB per case (MiB/s; higher is better)");
Console.WriteLine($"{"size",6} {"akka.remote",12} {"tcp plane",12} {"raw socket",12}");
foreach (var sizeMiB in sizesMiB)
{
    var size = sizeMiB << 20;
    var count = Math.Max(4, totalMiB / sizeMiB);
    var akka = await MeasureTransport("akka", size, count);
    var tcp = await MeasureTransport("tcp", size, count);
    var raw = await MeasureRawSocket(size, count);
    Console.WriteLine($"{sizeMiB + " MiB",6} {akka,12:0} {tcp,12:0} {raw,12:0}");
}

static async Task<double> MeasureTransport(string kind, int size, int count, ClusterTls? tlsA = null, ClusterTls? tlsB = null)
{
    var a = AkkaTls.CreateSystem("bench-a", ClusterConfig.ForClient("127.0.0.1", tlsA != null), tlsA, null);
    var b = AkkaTls.CreateSystem("bench-b", ClusterConfig.ForClient("127.0.0.1", tlsB != null), tlsB, null);
    IActivationTransport sender, receiver;
    TcpActivationListener? listener = null;
    if (kind == "akka")
    {
        var ta = AkkaActivationTransport.Create(a, "a");
        var tb = AkkaActivationTransport.Create(b, "b");
        var bAddress = ((ExtendedActorSystem)b).Provider.DefaultAddress;
        var aAddress = ((ExtendedActorSystem)a).Provider.DefaultAddress;
        ta.Connect(await a.ActorSelection(new RootActorPath(bAddress) / "user" / "b").ResolveOne(TimeSpan.FromSeconds(10)));
        tb.Connect(await b.ActorSelection(new RootActorPath(aAddress) / "user" / "a").ResolveOne(TimeSpan.FromSeconds(10)));
        (sender, receiver) = (ta, tb);
    }
    else
    {
        listener = TcpActivationListener.Start(options: TcpTransportOptions.Default with { Tls = tlsB });
        var accepted = listener.AcceptAsync();
        sender = await TcpActivationTransport.ConnectAsync(listener.Address, TcpTransportOptions.Default with { Tls = tlsA });
        receiver = await accepted;
    }

    var payload = new TensorPayload([size / 4], TensorPayload.F32, new byte[size]);
    Random.Shared.NextBytes(payload.Bytes);
    await Run(sender, receiver, payload, 0, 2); // warm-up: connections, JIT, buffers
    var watch = Stopwatch.StartNew();
    await Run(sender, receiver, payload, 1, count);
    var seconds = watch.Elapsed.TotalSeconds;

    await sender.DisposeAsync();
    await receiver.DisposeAsync();
    listener?.Dispose();
    await Task.WhenAll(a.Terminate(), b.Terminate());
    return (double)size * count / (1 << 20) / seconds;
}

static async Task Run(IActivationTransport sender, IActivationTransport receiver, TensorPayload payload, long step, int count)
{
    var sending = Task.Run(async () =>
    {
        for (var i = 0; i < count; i++)
            await sender.SendAsync(new ActivationTag(step, i, ActivationDirection.Forward), payload);
    });
    for (var i = 0; i < count; i++)
    {
        var got = await receiver.ReceiveAsync(new ActivationTag(step, i, ActivationDirection.Forward));
        if (got.Bytes.Length != payload.Bytes.Length) throw new InvalidDataException("short payload");
    }
    await sending;
}

static async Task<double> MeasureRawSocket(int size, int count)
{
    using var listen = new Socket(SocketType.Stream, ProtocolType.Tcp);
    listen.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    listen.Listen(1);
    using var client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    var acceptTask = listen.AcceptAsync();
    await client.ConnectAsync(listen.LocalEndPoint!);
    using var server = await acceptTask;
    var data = new byte[size];
    var buffer = new byte[size]; // preallocated: the raw ceiling, no per-message allocation
    async Task Pump(int n)
    {
        var send = Task.Run(async () => { for (var i = 0; i < n; i++) await client.SendAsync(data); });
        using var stream = new NetworkStream(server);
        for (var i = 0; i < n; i++) await stream.ReadExactlyAsync(buffer);
        await send;
    }
    await Pump(2);
    var watch = Stopwatch.StartNew();
    await Pump(count);
    return (double)size * count / (1 << 20) / watch.Elapsed.TotalSeconds;
}
