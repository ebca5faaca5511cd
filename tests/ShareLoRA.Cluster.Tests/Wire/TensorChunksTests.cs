using ShareLoRA.Cluster.Wire;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Pipeline;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.Wire;

public sealed class TensorChunksTests
{
    private static KeyValuePair<string, TensorPayload> Named(string name, int bytes) =>
        new(name, new TensorPayload([bytes / 4], TensorPayload.F32, new byte[bytes]));

    [Fact]
    public void GroupsStayWithinTheBoundAndKeepEveryTensorInOrder()
    {
        var tensors = Enumerable.Range(0, 10).Select(i => Named($"t{i}", 400)).ToList();
        var groups = TensorChunks.Split(tensors, maxBytes: 1000);
        Assert.Equal(5, groups.Count); // 2 x 400 per group
        Assert.All(groups, g => Assert.True(g.Values.Sum(p => p.Bytes.Length) <= 1000));
        Assert.Equal(tensors.Select(t => t.Key), groups.SelectMany(g => g.Keys));
    }

    [Fact]
    public void ATensorLargerThanTheBoundTravelsAlone()
    {
        var groups = TensorChunks.Split([Named("a", 100), Named("big", 5000), Named("b", 100)], maxBytes: 1000);
        Assert.Equal([["a"], ["big"], ["b"]], groups.Select(g => g.Keys.ToArray()).ToArray());
    }

    [Fact]
    public void NoTensorsGiveOneEmptyGroupAndABadBoundIsRefused()
    {
        Assert.Single(TensorChunks.Split([], 1000));
        Assert.Empty(TensorChunks.Split([], 1000)[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorChunks.Split([Named("a", 4)], 0));
    }

    [Fact]
    public void AStageStateRoundTripsBitwiseThroughBoundedParts()
    {
        using var scope = NewDisposeScope();
        var values = new Dictionary<string, Tensor>
        {
            ["layers.0.q.B"] = randn(64, 8), ["layers.1.q.B"] = randn(64, 8), ["layers.1.v.B"] = randn(32, 8),
        };
        var optimizer = values.ToDictionary(kv => kv.Key, kv => new AdamWParameterState(7, randn_like(kv.Value), rand_like(kv.Value)));
        var state = new StageState(values, optimizer);
        var shared = new Dictionary<string, Tensor> { ["shared.q.A"] = randn(8, 64) };

        var parts = StageStateWire.Encode(state, shared, maxBytes: 4096);
        Assert.True(parts.Count > 3, $"expected several parts, got {parts.Count}");
        Assert.All(parts, p => Assert.True(p.Tensors.Values.Sum(t => t.Bytes.Length) <= 4096 || p.Tensors.Count == 1));

        var (back, backShared) = StageStateWire.Decode(parts, "test");
        using (back)
        {
            Assert.Equal(values.Keys.Order(), back.Values.Keys.Order());
            foreach (var (name, v) in values)
            {
                Assert.True(eq(v, back.Values[name]).all().item<bool>(), name);
                Assert.Equal(7, back.Optimizer[name].Step);
                Assert.True(eq(optimizer[name].ExpAvg, back.Optimizer[name].ExpAvg).all().item<bool>(), name);
                Assert.True(eq(optimizer[name].ExpAvgSq, back.Optimizer[name].ExpAvgSq).all().item<bool>(), name);
            }
            Assert.True(eq(shared["shared.q.A"], backShared["shared.q.A"]).all().item<bool>());
            foreach (var t in backShared.Values) t.Dispose();
        }
    }

    [Fact]
    public void MomentsWithoutAStepCountAreRefused()
    {
        using var scope = NewDisposeScope();
        var part = new StatePart(new Dictionary<string, TensorPayload>
        {
            ["layers.0.q.B"] = TensorPayload.FromTensor(zeros(2)),
            ["layers.0.q.B.exp_avg"] = TensorPayload.FromTensor(zeros(2)),
            ["layers.0.q.B.exp_avg_sq"] = TensorPayload.FromTensor(zeros(2)),
        }, []);
        var e = Assert.Throws<InvalidDataException>(() => StageStateWire.Decode([part], "stage 3"));
        Assert.Contains("stage 3", e.Message);
        Assert.Contains("no AdamW step count", e.Message);
    }
}
