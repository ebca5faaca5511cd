using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Planning;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Pipeline;

public sealed class PipelineStageTests
{
    private const int Step = 5;

    public static IEnumerable<object[]> MethodsAndStages() =>
        from method in new[] { "lora", "share-a", "share-b", "share-ab" }
        from stages in new[] { 1, 2, 3 }
        select new object[] { method, stages };

    [Theory]
    [MemberData(nameof(MethodsAndStages))]
    public void StageChainGivesTheLossAndGradientsOfOneFullModelPass(string method, int stages)
    {
        var config = TinyLlama.Config();
        var layout = TinyLlama.Layout(config, method);
        var values = TinyLlama.RandomValues(layout, 3);
        var batches = new[] { TinyLlama.Batch(config.VocabSize, 1), TinyLlama.Batch(config.VocabSize, 2), TinyLlama.Batch(config.VocabSize, 3) };
        try
        {
            var (refLoss, refGrads) = Reference(config, layout, values, batches);
            var (loss, grads) = Pipelined(config, layout, values, batches, stages, ScheduleKind.OneFOneB);
            Assert.True(Math.Abs(loss - refLoss) <= 1e-5 * Math.Abs(refLoss), $"{method} p={stages}: loss {loss:R} vs full model {refLoss:R}");
            AssertClose(refGrads, grads, 1e-5, $"{method} p={stages}");
            TinyLlama.DisposeAll(refGrads.Values);
            TinyLlama.DisposeAll(grads.Values);
        }
        finally
        {
            TinyLlama.DisposeAll(values.Values);
            foreach (var b in batches) { b.InputIds.Dispose(); b.AttentionMask.Dispose(); b.Labels.Dispose(); }
        }
    }

    [Fact]
    public void OneFOneBOrderGivesTheSameNumbersAsGPipeOrder()
    {
        var config = TinyLlama.Config();
        var layout = TinyLlama.Layout(config, "share-a");
        var values = TinyLlama.RandomValues(layout, 4);
        var batches = Enumerable.Range(0, 4).Select(i => TinyLlama.Batch(config.VocabSize, 10 + i)).ToArray();
        var (gpipeLoss, gpipe) = Pipelined(config, layout, values, batches, 3, ScheduleKind.GPipe);
        var (oneFOneBLoss, oneFOneB) = Pipelined(config, layout, values, batches, 3, ScheduleKind.OneFOneB);
        Assert.Equal(gpipeLoss, oneFOneBLoss, 12);
        AssertClose(gpipe, oneFOneB, 1e-6, "1F1B vs GPipe");
        TinyLlama.DisposeAll(values.Values);
        TinyLlama.DisposeAll(gpipe.Values);
        TinyLlama.DisposeAll(oneFOneB.Values);
    }

    [Fact]
    public void BackwardFreesTheMicroBatchAndReturnsTheInputGradientOnlyAfterTheFirstStage()
    {
        var config = TinyLlama.Config();
        var layout = TinyLlama.Layout(config, "lora");
        var values = TinyLlama.RandomValues(layout, 5);
        var stages = TinyLlama.Stages(config, layout, values, 2);
        var b = TinyLlama.Batch(config.VocabSize, 6);
        using var scope = NewDisposeScope();
        var f0 = stages[0].Forward(Step, 0, b.InputIds, b.AttentionMask, null, 10);
        Assert.NotNull(f0.Activation);
        Assert.False(f0.Activation!.requires_grad);
        var f1 = stages[1].Forward(Step, 0, f0.Activation, b.AttentionMask, b.Labels, 10);
        Assert.Null(f1.Activation);
        Assert.Equal(TinyLlama.Targets(b), f1.TargetTokens);
        Assert.Throws<InvalidOperationException>(() => stages[1].Forward(Step, 0, f0.Activation, b.AttentionMask, b.Labels, 10));
        Assert.Equal(1, stages[0].InFlightCount);
        var g1 = stages[1].Backward(0, null);
        Assert.NotNull(g1);
        Assert.Equal(f0.Activation.shape, g1!.shape);
        Assert.Null(stages[0].Backward(0, g1));
        Assert.Equal(0, stages[0].InFlightCount);
        Assert.Equal(0, stages[1].InFlightCount);
        Assert.Throws<InvalidOperationException>(() => stages[1].Backward(0, null));
        TinyLlama.DisposeAll(stages);
        TinyLlama.DisposeAll(values.Values);
    }

    [Fact]
    public void StateExportAndImportRestoreLocalValuesAndOptimizerMoments()
    {
        var config = TinyLlama.Config();
        var layout = TinyLlama.Layout(config, "share-a");
        var values = TinyLlama.RandomValues(layout, 8);
        var a = TinyLlama.Stages(config, layout, values, 1);
        var b = TinyLlama.Stages(config, layout, values, 1);
        var batch = TinyLlama.Batch(config.VocabSize, 9);
        using var scope = NewDisposeScope();
        a[0].Forward(Step, 0, batch.InputIds, batch.AttentionMask, batch.Labels, 10);
        a[0].Backward(0, null);
        a[0].StepLocal(1e-2, 0.5);
        using (var state = a[0].ExportState()) b[0].ImportState(state);
        foreach (var (pa, pb) in a[0].LocalParameters.Zip(b[0].LocalParameters))
            Assert.True(eq(pa.Value, pb.Value).all().item<bool>(), pa.Name);
        using var sa = a[0].ExportState();
        using var sb = b[0].ExportState();
        foreach (var (name, st) in sa.Optimizer)
        {
            Assert.Equal(st.Step, sb.Optimizer[name].Step);
            Assert.True(eq(st.ExpAvgSq, sb.Optimizer[name].ExpAvgSq).all().item<bool>(), name);
        }
        TinyLlama.DisposeAll(a);
        TinyLlama.DisposeAll(b);
        TinyLlama.DisposeAll(values.Values);
    }

    /// <summary>The whole model with one bank: sum over micro-batches of token CE / total targets, one backward each.</summary>
    private static (double Loss, Dictionary<string, Tensor> Grads) Reference(ShareLoRA.Model.Config.LlamaConfig config, AdapterLayout layout,
        IReadOnlyDictionary<string, Tensor> values, IReadOnlyList<MicroBatchInput> batches)
    {
        using var model = LlamaModel.CreateRandom(config, TinyLlama.ModelSeed);
        using var bank = AdapterBank.Create(layout, TinyLlama.AdapterSeed);
        bank.LoadValues(values);
        double divisor = batches.Sum(TinyLlama.Targets);
        double total = 0;
        for (int mb = 0; mb < batches.Count; mb++)
        {
            using var scope = NewDisposeScope();
            var b = batches[mb];
            bank.Context = AdapterForwardContext.Train(Step, mb);
            var logits = model.Forward(b.InputIds, adapters: bank, attentionMask: b.AttentionMask);
            long s = logits.shape[1];
            var loss = nn.functional.cross_entropy(logits.narrow(1, 0, s - 1).reshape(-1, config.VocabSize),
                b.Labels.narrow(1, 1, s - 1).reshape(-1), ignore_index: -100, reduction: nn.Reduction.Sum);
            total += loss.item<float>();
            loss.div(divisor).backward();
        }
        var grads = bank.Parameters.ToDictionary(p => p.Name, p => p.Value.grad!.clone().DetachFromDisposeScope());
        return (total / divisor, grads);
    }

    /// <summary>The same through a stage chain: local gradients per stage, shared ones summed over the stages' partials.</summary>
    private static (double Loss, Dictionary<string, Tensor> Grads) Pipelined(ShareLoRA.Model.Config.LlamaConfig config, AdapterLayout layout,
        IReadOnlyDictionary<string, Tensor> values, IReadOnlyList<MicroBatchInput> batches, int p, ScheduleKind kind)
    {
        var stages = TinyLlama.Stages(config, layout, values, p);
        try
        {
            double divisor = batches.Sum(TinyLlama.Targets);
            var (lossSum, targets) = LocalScheduleExecutor.Run(stages, PipelineSchedule.Create(kind, p, batches.Count), Step, batches, divisor);
            Assert.Equal((long)divisor, targets);
            var grads = new Dictionary<string, Tensor>();
            foreach (var stage in stages)
            {
                Assert.Equal(0, stage.InFlightCount);
                foreach (var param in stage.LocalParameters) grads[param.Name] = param.Value.grad!.clone().DetachFromDisposeScope();
                foreach (var (name, g) in stage.SharedGradients())
                {
                    if (grads.TryGetValue(name, out var sum)) { sum.add_(g); g.Dispose(); }
                    else grads[name] = g.DetachFromDisposeScope();
                }
            }
            return (lossSum / divisor, grads);
        }
        finally
        {
            TinyLlama.DisposeAll(stages);
        }
    }

    private static void AssertClose(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            using var scope = NewDisposeScope();
            var a = actual[name];
            double scale = Math.Max(1e-3, e.abs().max().item<float>());
            double diff = (a - e).abs().max().item<float>();
            Assert.True(diff <= tolerance * scale, $"{what}: gradient of {name} differs by {diff:R} (scale {scale:R})");
        }
    }
}
