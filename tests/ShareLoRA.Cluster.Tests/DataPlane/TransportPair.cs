using Akka.Actor;
using ShareLoRA.Cluster.DataPlane;

namespace ShareLoRA.Cluster.Tests.DataPlane;

/// <summary>Two ActorSystems on 127.0.0.1 (ephemeral ports) and a connected link between them, over Akka or TCP.</summary>
internal sealed class TransportPair : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private TransportPair(ActorSystem a, ActorSystem b, IActivationTransport atA, IActivationTransport atB, IDisposable? listener)
    {
        SystemA = a;
        SystemB = b;
        A = atA;
        B = atB;
        _listener = listener;
    }

    private readonly IDisposable? _listener;
    public ActorSystem SystemA { get; }
    public ActorSystem SystemB { get; }
    public IActivationTransport A { get; }
    public IActivationTransport B { get; }

    public static async Task<TransportPair> CreateAsync(string kind, TcpTransportOptions? tcpOptions = null)
    {
        var a = TestSystems.Create("dp-a");
        var b = TestSystems.Create("dp-b");
        if (kind == "akka")
        {
            var atA = AkkaActivationTransport.Create(a, "stage0-next");
            var atB = AkkaActivationTransport.Create(b, "stage1-prev");
            // Each side learns the other's endpoint through Akka, as stages will from the coordinator.
            atA.Connect(await a.ActorSelection(new RootActorPath(TestSystems.AddressOf(b)) / "user" / "stage1-prev").ResolveOne(Timeout));
            atB.Connect(await b.ActorSelection(new RootActorPath(TestSystems.AddressOf(a)) / "user" / "stage0-next").ResolveOne(Timeout));
            return new TransportPair(a, b, atA, atB, null);
        }

        // TCP: B listens and answers GetDataPlaneAddress; A asks through Akka.Remote, then dials.
        var listener = TcpActivationListener.Start("127.0.0.1", 0, options: tcpOptions);
        b.ActorOf(Props.Create(() => new AddressAnswerer(listener.Address)), "dp-address");
        var accepted = listener.AcceptAsync();
        var address = await a.ActorSelection(new RootActorPath(TestSystems.AddressOf(b)) / "user" / "dp-address")
            .Ask<DataPlaneAddress>(new DataPlaneProtocol.GetDataPlaneAddress("stage0->stage1"), Timeout);
        var connected = await TcpActivationTransport.ConnectAsync(address, tcpOptions);
        return new TransportPair(a, b, connected, await accepted.WaitAsync(Timeout), listener);
    }

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        _listener?.Dispose();
        TestSystems.Shutdown(SystemA, SystemB);
    }

    private sealed class AddressAnswerer : ReceiveActor
    {
        public AddressAnswerer(DataPlaneAddress address) =>
            Receive<DataPlaneProtocol.GetDataPlaneAddress>(_ => Sender.Tell(address));
    }
}
