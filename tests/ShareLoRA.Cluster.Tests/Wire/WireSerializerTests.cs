using System.Text.Json;
using Akka.Actor;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Cluster.Stages;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Tests.Wire;

public sealed class WireSerializerTests : IDisposable
{
    private readonly ActorSystem _system = TestSystems.Create("wire");

    /// <summary>One filled-in instance per registered message type; a new message type needs a sample here.</summary>
    private static readonly Dictionary<Type, object> Samples = new()
    {
        [typeof(NodeProtocol.GetNodeReport)] = new NodeProtocol.GetNodeReport(),
        [typeof(NodeProtocol.NodeReport)] = new NodeProtocol.NodeReport("akka.tcp://sharelora@10.0.0.2:4100", ["worker"], "cuda:1", 8,
            [new("cpu", 1L << 34, 1L << 35), new("cuda:0", null, null)], 4242),
        [typeof(StatusProtocol.GetStatus)] = new StatusProtocol.GetStatus(),
        [typeof(StatusReport)] = new StatusReport("akka.tcp://sharelora@10.0.0.1:4053", new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero),
            [new MemberInfo("akka.tcp://sharelora@10.0.0.1:4053", ["seed"], "Up", true), new MemberInfo("akka.tcp://sharelora@10.0.0.2:4100", ["worker"], "Down", false)],
            [new NodeProtocol.NodeReport("akka.tcp://sharelora@10.0.0.2:4100", ["worker"], "cpu", 0, [new("cpu", null, 1024)], 7)]),
        [typeof(DataPlaneProtocol.ActivationFrame)] = new DataPlaneProtocol.ActivationFrame(new ActivationTag(12, 3, ActivationDirection.Backward),
            new TensorPayload([2, 2], "bf16", [1, 2, 3, 4, 5, 6, 7, 8])),
        [typeof(DataPlaneProtocol.ActivationAck)] = new DataPlaneProtocol.ActivationAck(new ActivationTag(1, 0, ActivationDirection.Forward)),
        [typeof(DataPlaneAddress)] = new DataPlaneAddress("10.0.0.3", 45001, "00FF"),
        [typeof(DataPlaneProtocol.GetDataPlaneAddress)] = new DataPlaneProtocol.GetDataPlaneAddress("stage1->stage2"),
        // Actor references are null here (they travel as paths; ActorRefsTravelAsPathsAndResolveOnTheOtherSide covers them).
        [typeof(CoordinatorProtocol.SubmitJob)] = new CoordinatorProtocol.SubmitJob("{\"name\": \"x\"}", Resume: true),
        [typeof(CoordinatorProtocol.JobAccepted)] = new CoordinatorProtocol.JobAccepted("x-1", 30),
        [typeof(CoordinatorProtocol.JobRejected)] = new CoordinatorProtocol.JobRejected("job x-1 is Running"),
        [typeof(CoordinatorProtocol.GetJobStatus)] = new CoordinatorProtocol.GetJobStatus(),
        [typeof(JobStatus)] = new JobStatus("x-1", "x", JobStatus.Running, "step 2/30", 2, 30, 3.25, 1234.5,
            [new StageStatus(0, "akka.tcp://sharelora@10.0.0.2:4100", 0, 3, "cuda:0"), new StageStatus(1, "akka.tcp://sharelora@10.0.0.3:4100", 3, 5, "cpu")], "/runs/x", 3.5, 2,
            new Dictionary<string, double> { ["dev_accuracy"] = 0.625, ["dev_f1"] = 2.0 / 3.0 }),
        [typeof(CoordinatorProtocol.StageReady)] = new CoordinatorProtocol.StageReady("x-1", 1, null!, "akka.tcp://sharelora@10.0.0.3:4100", "cpu",
            new DataPlaneAddress("10.0.0.3", 45001, "AB")),
        [typeof(CoordinatorProtocol.StageConnected)] = new CoordinatorProtocol.StageConnected("x-1", 1),
        [typeof(CoordinatorProtocol.StageFailed)] = new CoordinatorProtocol.StageFailed("x-1", 1, "stage 1 on worker w: step 3 failed: link broken", Recoverable: true),
        [typeof(CoordinatorProtocol.StageStatePart)] = new CoordinatorProtocol.StageStatePart("x-1-a2", 1, 6, 0, 2, new StatePart(
            new Dictionary<string, TensorPayload> { ["layers.0.q.B.exp_avg"] = new TensorPayload([1], "f32", [0, 0, 128, 63]) },
            new Dictionary<string, long> { ["layers.0.q.B"] = 6 })),
        [typeof(CoordinatorProtocol.StepPartial)] = new CoordinatorProtocol.StepPartial("x-1", 4, 1,
            new Dictionary<string, TensorPayload> { ["shared.q.A"] = new TensorPayload([1, 2], "f32", [0, 0, 128, 63, 0, 0, 0, 64]) }, 0.5, 12.25, 40, 0.125, 4096),
        [typeof(CoordinatorProtocol.StageAdapter)] = new CoordinatorProtocol.StageAdapter("x-1", 0,
            new Dictionary<string, TensorPayload> { ["layers.0.q.B"] = new TensorPayload([1], "f32", [0, 0, 128, 63]) }),
        [typeof(StageProtocol.SpawnStage)] = new StageProtocol.SpawnStage("x-1", 1, 3, "{}", 2, 4, null!, Restore: true),
        [typeof(StageProtocol.ConnectNeighbours)] = new StageProtocol.ConnectNeighbours("x-1", new DataPlaneAddress("10.0.0.4", 45002, "CD")),
        [typeof(StageProtocol.RunStep)] = new StageProtocol.RunStep("x-1", 4, 40, [new StageProtocol.MicroBatchData(1, 3, [1, 5, 6], null, [1, 1, 0])]),
        [typeof(StageProtocol.StepCommit)] = new StageProtocol.StepCommit("x-1", 4,
            new Dictionary<string, TensorPayload> { ["shared.q.A"] = new TensorPayload([1], "f32", [0, 0, 128, 63]) }, 0.75, 1e-3),
        [typeof(StageProtocol.CollectAdapter)] = new StageProtocol.CollectAdapter("x-1"),
        [typeof(StageProtocol.StopStage)] = new StageProtocol.StopStage("x-1"),
        [typeof(StageProtocol.RestoreState)] = new StageProtocol.RestoreState("x-1-a2", 1, 3, new StatePart(
            new Dictionary<string, TensorPayload> { ["shared.q.A"] = new TensorPayload([1], "f32", [0, 0, 128, 63]) }, [])),
        [typeof(StageProtocol.CollectState)] = new StageProtocol.CollectState("x-1-a2", 6),
        [typeof(StageProtocol.RunEval)] = new StageProtocol.RunEval("x-1", 4, 1, 2, 3, [new StageProtocol.MicroBatchData(1, 3, null, [-100, 5, 6], [1, 1, 0])]),
        [typeof(CoordinatorProtocol.EvalPartial)] = new CoordinatorProtocol.EvalPartial("x-1", 4, 1, 12.5, 40, 0.25, 8192, [1f, 0f, 3.75f]),
    };

    public static TheoryData<string> Manifests()
    {
        var data = new TheoryData<string>();
        foreach (var (manifest, _) in WireMessageTypes.All) data.Add(manifest);
        return data;
    }

    [Theory]
    [MemberData(nameof(Manifests))]
    public void EveryRegisteredMessageRoundTripsThroughTheAkkaSerializer(string manifest)
    {
        var type = WireMessageTypes.TypeOf(manifest);
        Assert.True(Samples.TryGetValue(type, out var message) || EvalWireSamples.All.TryGetValue(type, out message),
            $"no sample for {type.Name}: add one to Samples");

        var serializer = _system.Serialization.FindSerializerFor(message);
        Assert.IsType<MessagePackWireSerializer>(serializer);
        Assert.Equal(417, serializer.Identifier);

        var bytes = serializer.ToBinary(message);
        var back = _system.Serialization.Deserialize(bytes, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, message));
        Assert.IsType(type, back);
        // Records compare arrays by reference; JSON compares the content.
        Assert.Equal(JsonSerializer.Serialize(message, type), JsonSerializer.Serialize(back, type));
    }

    /// <summary>
    /// The last stage's GLUE predictions ride on EvalPartial (key 7, appended): they come back bit for bit, a message
    /// written before the key existed (7 fields) reads with null predictions, and one without predictions stays null.
    /// </summary>
    [Fact]
    public void EvalPartialCarriesRowPredictionsBitwiseAndReadsTheOlderSevenFieldForm()
    {
        var serializer = (MessagePackWireSerializer)_system.Serialization.FindSerializerFor(new CoordinatorProtocol.EvalPartial("x", 0, 0, 0, 0, 0, 0));
        float[] predictions = [1f, 0f, 3.7999999f, float.NaN, -0f, 1e-30f];
        var message = new CoordinatorProtocol.EvalPartial("x-1", 6, 1, 1.5, 3, 0.5, 0, predictions);
        var back = MessagePack.MessagePackSerializer.Deserialize<CoordinatorProtocol.EvalPartial>(
            MessagePack.MessagePackSerializer.Serialize(message, serializer.Options), serializer.Options);
        Assert.Equal(predictions.Select(BitConverter.SingleToInt32Bits), back.RowPredictions!.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(message with { RowPredictions = null }, back with { RowPredictions = null });

        var older = MessagePack.MessagePackSerializer.Serialize(new object[] { "x-1", 6, 1, 1.5, 3L, 0.5, 0L }, serializer.Options);
        var read = MessagePack.MessagePackSerializer.Deserialize<CoordinatorProtocol.EvalPartial>(older, serializer.Options);
        Assert.Equal(new CoordinatorProtocol.EvalPartial("x-1", 6, 1, 1.5, 3, 0.5, 0), read);
        Assert.Null(read.RowPredictions);

        var none = new CoordinatorProtocol.EvalPartial("x-1", 6, 0, 0, 0, 0.5, 4096);
        Assert.Null(MessagePack.MessagePackSerializer.Deserialize<CoordinatorProtocol.EvalPartial>(
            MessagePack.MessagePackSerializer.Serialize(none, serializer.Options), serializer.Options).RowPredictions);
    }

    [Fact]
    public void EveryClusterMessageTypeIsRegistered()
    {
        var unregistered = typeof(IClusterMessage).Assembly.GetTypes()
            .Where(t => typeof(IClusterMessage).IsAssignableFrom(t) && !t.IsInterface && !t.IsAbstract)
            .Where(t => WireMessageTypes.All.All(e => e.Type != t))
            .Select(t => t.FullName)
            .ToList();
        Assert.Empty(unregistered);
    }

    [Fact]
    public void A16MiBFrameCostsOnlyAFewBytesOfFraming()
    {
        var frame = new DataPlaneProtocol.ActivationFrame(new ActivationTag(1, 1, ActivationDirection.Forward),
            new TensorPayload([4, 1 << 20], "f32", new byte[16 << 20]));
        var bytes = _system.Serialization.FindSerializerFor(frame).ToBinary(frame);
        Assert.InRange(bytes.Length - (16 << 20), 1, 64);
    }

    [Fact]
    public void ActorRefsTravelAsPathsAndResolveOnTheOtherSide()
    {
        var other = TestSystems.Create("wire-other");
        try
        {
            var target = _system.ActorOf(Props.Empty, "target");
            var sending = new MessagePackWireSerializer((ExtendedActorSystem)_system);
            var receiving = new MessagePackWireSerializer((ExtendedActorSystem)other);
            var bytes = MessagePack.MessagePackSerializer.Serialize(new RefHolder(target), sending.Options);
            var back = MessagePack.MessagePackSerializer.Deserialize<RefHolder>(bytes, receiving.Options);
            Assert.Equal(target.Path.ToStringWithAddress(TestSystems.AddressOf(_system)), back.Ref!.Path.ToString());
        }
        finally
        {
            TestSystems.Shutdown(other);
        }
    }

    public void Dispose() => TestSystems.Shutdown(_system);
}

[MessagePack.MessagePackObject]
public sealed record RefHolder([property: MessagePack.Key(0)] IActorRef? Ref);
