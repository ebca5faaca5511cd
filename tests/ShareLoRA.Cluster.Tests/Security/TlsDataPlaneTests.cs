using System.Buffers.Binary;
using System.Net.Sockets;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Tests.Security;

public sealed class TlsDataPlaneTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static TcpTransportOptions Options(ClusterTls? tls, CapturedLog log, long maxFrame = 256L << 20) => new(MaxFrameBytes: maxFrame)
    {
        Tls = tls,
        Rejections = new ConnectionRejectionLog(log.Logger, TimeSpan.FromMinutes(1)),
    };

    [Fact]
    public async Task TlsLinkCarriesA1MiBPayloadBothWays()
    {
        var log = new CapturedLog();
        using var listener = TcpActivationListener.Start(options: Options(TestCertificates.Member("stage1"), log));
        var accepted = listener.AcceptAsync();
        await using var a = await TcpActivationTransport.ConnectAsync(listener.Address, Options(TestCertificates.Member("stage0"), log));
        await using var b = await accepted.WaitAsync(Timeout);

        var bytes = new byte[1 << 20];
        Random.Shared.NextBytes(bytes);
        var tag = new ActivationTag(3, 1, ActivationDirection.Forward);
        await a.SendAsync(tag, new TensorPayload([bytes.Length / 4], TensorPayload.F32, bytes));
        var got = await b.ReceiveAsync(tag).AsTask().WaitAsync(Timeout);
        Assert.Equal(bytes, got.Bytes);

        var back = tag with { Direction = ActivationDirection.Backward };
        await b.SendAsync(back, new TensorPayload([2], TensorPayload.F32, new byte[8]));
        Assert.Equal(8, (await a.ReceiveAsync(back).AsTask().WaitAsync(Timeout)).Bytes.Length);
        Assert.Empty(log.Lines);
    }

    [Fact]
    public async Task AForeignCertificateIsRefusedAndLoggedAndTheListenerStillAcceptsItsNeighbour()
    {
        var log = new CapturedLog();
        using var listener = TcpActivationListener.Start(options: Options(TestCertificates.Member("stage1"), log));
        var accepted = listener.AcceptAsync();

        var intruder = await Assert.ThrowsAsync<IOException>(() =>
            TcpActivationTransport.ConnectAsync(listener.Address, Options(TestCertificates.Intruder("mallory"), new CapturedLog())));
        Assert.Contains(listener.Address.ToString(), intruder.Message);
        // A client without TLS at all is refused too.
        await Assert.ThrowsAsync<IOException>(() =>
            TcpActivationTransport.ConnectAsync(listener.Address, Options(null, new CapturedLog()) with { ConnectTimeoutMs = 3000 }));
        Assert.False(accepted.IsCompleted);

        await using var a = await TcpActivationTransport.ConnectAsync(listener.Address, Options(TestCertificates.Member("stage0"), new CapturedLog()));
        await using var b = await accepted.WaitAsync(Timeout);
        var tag = new ActivationTag(1, 0, ActivationDirection.Forward);
        await a.SendAsync(tag, new TensorPayload([1], TensorPayload.F32, new byte[4]));
        await b.ReceiveAsync(tag).AsTask().WaitAsync(Timeout);

        var refusal = Assert.Single(log.Lines, l => l.Contains("refused connection from"));
        Assert.Contains("127.0.0.1", refusal);
        Assert.Contains("not issued by the cluster CA", refusal);
    }

    [Fact]
    public async Task AFrameHeaderAnnouncingMoreThanTheCapDropsTheLinkWithALogLine()
    {
        var log = new CapturedLog();
        using var listener = TcpActivationListener.Start(options: Options(null, log, maxFrame: 1 << 20));
        var accepted = listener.AcceptAsync();
        using var raw = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await raw.ConnectAsync(listener.Address.Host, listener.Address.Port);
        await using var stream = new NetworkStream(raw);
        await DataPlaneFrames.WriteHandshakeAsync(stream, listener.Address.Token, CancellationToken.None);
        Assert.Equal(DataPlaneFrames.Accepted, (byte)stream.ReadByte());
        await using var receiver = await accepted.WaitAsync(Timeout);

        // kind 1, step, mb, dir, dtype f32, rank 1, dim, then a byte count of 1 GiB (never sent).
        var header = new byte[16 + 8 + 8];
        header[0] = 1;
        header[15] = 1;
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), 1L << 28);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(24), 1L << 30);
        await stream.WriteAsync(header);

        var e = await Assert.ThrowsAsync<IOException>(() => receiver.ReceiveAsync(new ActivationTag(0, 0, ActivationDirection.Forward)).AsTask().WaitAsync(Timeout));
        Assert.Contains("exceeds the limit of 1048576", e.Message);
        var line = Assert.Single(log.Lines, l => l.Contains("dropped the connection from"));
        Assert.Contains("exceeds the limit", line);
        // The receiver closed its end: the peer sees the connection end.
        var buffer = new byte[1];
        Assert.Equal(0, await stream.ReadAsync(buffer).AsTask().WaitAsync(Timeout));
    }

    [Fact]
    public void TheFrameCapComesFromHocon()
    {
        var config = Akka.Configuration.ConfigurationFactory.ParseString("sharelora.data-plane.maximum-frame-size = 3 MiB")
            .WithFallback(Akka.Configuration.ConfigurationFactory.ParseString(ShareLoRA.Cluster.Config.ClusterConfig.ReadEmbedded("base.hocon")));
        Assert.Equal(3L << 20, TcpTransportOptions.FromConfig(config).MaxFrameBytes);
        var defaults = Akka.Configuration.ConfigurationFactory.ParseString(ShareLoRA.Cluster.Config.ClusterConfig.ReadEmbedded("base.hocon"));
        Assert.Equal(256L << 20, TcpTransportOptions.FromConfig(defaults).MaxFrameBytes);
    }
}
