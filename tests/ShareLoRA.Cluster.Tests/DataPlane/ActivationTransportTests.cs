using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Tests.DataPlane;

public class ActivationTransportTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    public static TheoryData<string> Kinds => new() { "akka", "tcp" };

    private static TensorPayload RandomPayload(int bytes, int seed)
    {
        var data = new byte[bytes];
        new Random(seed).NextBytes(data);
        return new TensorPayload([bytes / 4], TensorPayload.F32, data);
    }

    private static void AssertSame(TensorPayload expected, TensorPayload actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.Equal(expected.DType, actual.DType);
        Assert.True(expected.Bytes.AsSpan().SequenceEqual(actual.Bytes), "payload bytes differ");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task CarriesOneAndEightMiBIntactInBothDirections(string kind)
    {
        await using var pair = await TransportPair.CreateAsync(kind);
        var small = RandomPayload(1 << 20, 1);
        var large = RandomPayload(8 << 20, 2);
        var forward0 = new ActivationTag(1, 0, ActivationDirection.Forward);
        var forward1 = new ActivationTag(1, 1, ActivationDirection.Forward);
        var backward0 = new ActivationTag(1, 0, ActivationDirection.Backward);

        await pair.A.SendAsync(forward0, small);
        await pair.A.SendAsync(forward1, large);
        AssertSame(small, await pair.B.ReceiveAsync(forward0).AsTask().WaitAsync(Bound));
        AssertSame(large, await pair.B.ReceiveAsync(forward1).AsTask().WaitAsync(Bound));

        await pair.B.SendAsync(backward0, large);
        AssertSame(large, await pair.A.ReceiveAsync(backward0).AsTask().WaitAsync(Bound));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ReceivesMatchByTagWhateverTheOrder(string kind)
    {
        await using var pair = await TransportPair.CreateAsync(kind);
        var payloads = Enumerable.Range(0, 3).Select(i => RandomPayload(4096, 10 + i)).ToArray();
        var pending2 = pair.B.ReceiveAsync(new ActivationTag(5, 2, ActivationDirection.Forward)).AsTask(); // awaited before it is sent
        for (var mb = 0; mb < 3; mb++)
            await pair.A.SendAsync(new ActivationTag(5, mb, ActivationDirection.Forward), payloads[mb]);
        AssertSame(payloads[2], await pending2.WaitAsync(Bound));
        AssertSame(payloads[1], await pair.B.ReceiveAsync(new ActivationTag(5, 1, ActivationDirection.Forward)).AsTask().WaitAsync(Bound));
        AssertSame(payloads[0], await pair.B.ReceiveAsync(new ActivationTag(5, 0, ActivationDirection.Forward)).AsTask().WaitAsync(Bound));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ManyFramesThroughSmallWindowsAllArriveInOrder(string kind)
    {
        // Window/credits of 1: the sender is held back by the receiver; nothing is lost or reordered.
        var options = new TcpTransportOptions(SendQueueCapacity: 1, ReceiveCredits: 1, SocketBufferBytes: 64 << 10);
        await using var pair = await TransportPair.CreateAsync(kind, options);
        var payloads = Enumerable.Range(0, 24).Select(i => RandomPayload(256 << 10, 100 + i)).ToArray();
        var sending = Task.Run(async () =>
        {
            for (var mb = 0; mb < payloads.Length; mb++)
                await pair.A.SendAsync(new ActivationTag(0, mb, ActivationDirection.Forward), payloads[mb]);
        });
        for (var mb = 0; mb < payloads.Length; mb++)
            AssertSame(payloads[mb], await pair.B.ReceiveAsync(new ActivationTag(0, mb, ActivationDirection.Forward)).AsTask().WaitAsync(Bound));
        await sending.WaitAsync(Bound);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ClosingOneEndFailsThePendingReceiveOfTheOther(string kind)
    {
        await using var pair = await TransportPair.CreateAsync(kind);
        var pending = pair.B.ReceiveAsync(new ActivationTag(9, 0, ActivationDirection.Forward)).AsTask();
        await pair.A.DisposeAsync();
        var e = await Assert.ThrowsAnyAsync<IOException>(() => pending.WaitAsync(Bound));
        Assert.Contains("data-plane link", e.Message);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task ASenderHeldBackByAVanishedReceiverFailsInsteadOfWaitingForever(string kind)
    {
        var options = new TcpTransportOptions(SendQueueCapacity: 1, ReceiveCredits: 1, SocketBufferBytes: 64 << 10);
        await using var pair = await TransportPair.CreateAsync(kind, options);
        var sending = Task.Run(async () =>
        {
            // Nobody receives, so the window fills and a send waits; then the receiver goes away.
            for (var mb = 0; mb < 64; mb++)
                await pair.A.SendAsync(new ActivationTag(0, mb, ActivationDirection.Forward), RandomPayload(256 << 10, mb));
        });
        await pair.B.DisposeAsync();
        await Assert.ThrowsAnyAsync<IOException>(() => sending.WaitAsync(Bound));
    }

    [Fact]
    public async Task TcpListenerTurnsAwayAWrongTokenAndStillAcceptsTheNeighbour()
    {
        using var listener = TcpActivationListener.Start();
        var accepted = listener.AcceptAsync();
        var forged = listener.Address with { Token = "not-the-token" };
        await Assert.ThrowsAsync<IOException>(() => TcpActivationTransport.ConnectAsync(forged));
        await using var client = await TcpActivationTransport.ConnectAsync(listener.Address);
        await using var server = await accepted.WaitAsync(Bound);
        var payload = RandomPayload(1024, 7);
        await client.SendAsync(new ActivationTag(0, 0, ActivationDirection.Forward), payload);
        AssertSame(payload, await server.ReceiveAsync(new ActivationTag(0, 0, ActivationDirection.Forward)).AsTask().WaitAsync(Bound));
    }
}
