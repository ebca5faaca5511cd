using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Planning;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Pipeline;

/// <summary>
/// GPT-2 and RoBERTa through the same pipeline as Llama: tiny random checkpoints saved as HF directories, cut into
/// P = 2 or 3 contiguous stages (GPipe and 1F1B), trained a few optimizer steps exactly as the local trainer steps;
/// per-step losses and every trained tensor (adapters, RoBERTa's head) must equal the P = 1 run's within 1e-5.
/// </summary>
public sealed class FamilyPipelineTests
{
    private const int Steps = 3;
    private static readonly AdamWSettings Optimizer = new(1e-2, WeightDecay: 0.01);

    public static IEnumerable<object[]> Partitions() =>
        (from method in new[] { "lora", "share-a" }
         from stages in new[] { 2, 3 }
         from kind in new[] { "gpipe", "1f1b" }
         select new object[] { method, stages, kind })
        .Concat([["share-b", 3, "1f1b"], ["share-ab", 3, "gpipe"]]);

    private static ScheduleKind Kind(string kind) => kind == "gpipe" ? ScheduleKind.GPipe : ScheduleKind.OneFOneB;

    [Theory]
    [MemberData(nameof(Partitions))]
    public void Gpt2PipelineMatchesOneStage(string method, int stages, string kind)
    {
        using var folder = new TempFolder();
        var dir = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var layout = AdapterLayout.ForMethod(method, TinyFamilies.Gpt2.NumLayers, ShareLoRA.Model.Gpt2.Gpt2Model.AdapterDims(TinyFamilies.Gpt2),
            TinyFamilies.AllTargets, 4, 32, 0.1);
        var values = TinyLlama.RandomValues(layout, 13);
        var steps = Enumerable.Range(0, Steps)
            .Select(s => (IReadOnlyList<MicroBatchInput>)Enumerable.Range(0, 3).Select(mb => TinyLlama.Batch(TinyFamilies.Vocab, 100 + 10 * s + mb)).ToList())
            .ToList();
        try
        {
            // Label smoothing 0.1 and adapter dropout 0.1 as E2E trains; clipping at 0.5 so the global norm spans stages.
            var (refLosses, reference) = Run(1, ScheduleKind.GPipe);
            var (losses, pipelined) = Run(stages, Kind(kind));
            TinyFamilies.AssertLossesClose(refLosses, losses, 1e-5, $"gpt2 {method} p={stages} {kind}");
            TinyFamilies.AssertClose(reference, pipelined, 1e-5, $"gpt2 {method} p={stages} {kind}");
            Assert.True(refLosses.All(double.IsFinite));
            TinyLlama.DisposeAll(reference.Values);
            TinyLlama.DisposeAll(pipelined.Values);
        }
        finally
        {
            TinyLlama.DisposeAll(values.Values);
            TinyFamilies.DisposeBatches(steps);
        }

        (List<double>, Dictionary<string, Tensor>) Run(int p, ScheduleKind k) => TinyFamilies.Train(
            TinyFamilies.Stages(dir, TinyFamilies.Gpt2.NumLayers, layout, p, Optimizer, values, labelSmoothing: 0.1),
            Optimizer, k, steps, b => TinyFamilies.Divisor(b, causal: true), _ => 1e-2, 0.5);
    }

    [Theory]
    [MemberData(nameof(Partitions))]
    public void RobertaPipelineMatchesOneStageIncludingTheHead(string method, int stages, string kind) =>
        RobertaMatches(method, stages, kind, numLabels: 2);

    [Theory]
    [InlineData("share-a", 3, "1f1b")]
    [InlineData("lora", 2, "gpipe")]
    public void RobertaRegressionPipelineMatchesOneStage(string method, int stages, string kind) =>
        RobertaMatches(method, stages, kind, numLabels: 1);

    private static void RobertaMatches(string method, int stages, string kind, int numLabels)
    {
        using var folder = new TempFolder();
        var dir = TinyFamilies.SaveRoberta(Path.Combine(folder.Path, "roberta"), numLabels);
        var config = TinyFamilies.Roberta(numLabels);
        var layout = AdapterLayout.ForMethod(method, config.NumLayers, ShareLoRA.Model.Roberta.RobertaModel.AdapterDims(config),
            TinyFamilies.AllTargets, 4, 8, 0.1);
        var values = TinyLlama.RandomValues(layout, 17);
        var steps = Enumerable.Range(0, Steps)
            .Select(s => (IReadOnlyList<MicroBatchInput>)Enumerable.Range(0, 3).Select(mb => TinyFamilies.RobertaBatch(200 + 10 * s + mb, numLabels == 1)).ToList())
            .ToList();
        try
        {
            var (refLosses, reference) = Run(1, ScheduleKind.GPipe);
            var (losses, pipelined) = Run(stages, Kind(kind));
            Assert.Equal(4, reference.Keys.Count(k => k.StartsWith(RobertaStageModel.HeadPrefix, StringComparison.Ordinal)));
            TinyFamilies.AssertLossesClose(refLosses, losses, 1e-5, $"roberta({numLabels}) {method} p={stages} {kind}");
            TinyFamilies.AssertClose(reference, pipelined, 1e-5, $"roberta({numLabels}) {method} p={stages} {kind}");
            TinyLlama.DisposeAll(reference.Values);
            TinyLlama.DisposeAll(pipelined.Values);
        }
        finally
        {
            TinyLlama.DisposeAll(values.Values);
            TinyFamilies.DisposeBatches(steps);
        }

        (List<double>, Dictionary<string, Tensor>) Run(int p, ScheduleKind k) => TinyFamilies.Train(
            TinyFamilies.Stages(dir, config.NumLayers, layout, p, Optimizer, values),
            Optimizer, k, steps, b => TinyFamilies.Divisor(b, causal: false), s => 1e-2 * (s + 1) / Steps, 1.0);
    }

    [Fact]
    public void RobertaHeadTrainsOnTheLastStageOnlyAndTravelsInStageStateAndCheckpoints()
    {
        using var folder = new TempFolder();
        var dir = TinyFamilies.SaveRoberta(Path.Combine(folder.Path, "roberta"));
        var config = TinyFamilies.Roberta();
        var layout = AdapterLayout.ForMethod("share-a", config.NumLayers, ShareLoRA.Model.Roberta.RobertaModel.AdapterDims(config),
            [TargetModule.Q, TargetModule.V], 4, 8, 0.0);
        var stages = TinyFamilies.Stages(dir, config.NumLayers, layout, 2, Optimizer);
        var fresh = TinyFamilies.Stages(dir, config.NumLayers, layout, 2, Optimizer);
        var batches = new[] { TinyFamilies.RobertaBatch(1, false), TinyFamilies.RobertaBatch(2, false) };
        try
        {
            Assert.Empty(stages[0].HeadParameters);
            Assert.Equal(["head.classifier.dense.bias", "head.classifier.dense.weight", "head.classifier.out_proj.bias", "head.classifier.out_proj.weight"],
                stages[1].HeadParameters.Select(p => p.Name).Order());
            var before = stages[1].HeadParameters.ToDictionary(p => p.Name, p => p.Value.detach().clone());
            using (var server = SharedParameterServer.FromBank(stages[0].Adapters, Optimizer))
            using (NewDisposeScope())
                PipelineOptimizerStep.Run(stages, server, PipelineSchedule.Create(ScheduleKind.OneFOneB, 2, 2), 0, batches, 6, 1e-2, 0);
            foreach (var (name, value) in stages[1].HeadParameters)
                Assert.False(eq(before[name], value).all().item<bool>(), $"{name} did not change");

            // Stage state: the head's values and AdamW moments go with the last stage's per-layer tensors.
            using (var state = stages[1].ExportState())
            {
                Assert.Contains("head.classifier.out_proj.weight", state.Values.Keys);
                Assert.Equal(1, state.Optimizer["head.classifier.out_proj.weight"].Step);
                fresh[1].ImportState(state);
            }
            foreach (var ((name, a), (_, b)) in stages[1].HeadParameters.Zip(fresh[1].HeadParameters))
                Assert.True(eq(a, b).all().item<bool>(), name);
            using (var s1 = stages[1].ExportState())
            using (var s2 = fresh[1].ExportState())
                foreach (var (name, st) in s1.Optimizer)
                    Assert.True(eq(st.ExpAvgSq, s2.Optimizer[name].ExpAvgSq).all().item<bool>(), name);

            // Checkpoint: written by layer name, the head comes back only to the stage that holds it.
            var job = JobConfig.Parse("""{ "model": "/models/tiny", "data": { "train": "/data/train.jsonl" }, "seed": 7 }""", "job.json", "/");
            var store = new CheckpointStore(Path.Combine(folder.Path, "run"));
            var states = stages.Select(s => s.ExportState()).ToList();
            using (var sharedServer = SharedParameterServer.FromBank(stages[0].Adapters, Optimizer))
            using (var shared = sharedServer.ExportState())
            using (var content = TrainingCheckpoint.Build(1, DataCursor.Start, job, CheckpointPlan.SingleStage(config.NumLayers, "1f1b", 2),
                       CheckpointMetrics.None, states, shared))
                store.Save(content.Content);
            TinyLlama.DisposeAll(states);
            using var loaded = store.LoadLatestValid()!;
            using var restored = TrainingCheckpoint.Read(loaded);
            using (var first = restored.ForStage(0, 2, holdsHead: false))
                Assert.DoesNotContain(first.Values.Keys, TrainingCheckpoint.IsHead);
            using (var last = restored.ForStage(2, 3, holdsHead: true))
            {
                Assert.Equal(4, last.Values.Keys.Count(TrainingCheckpoint.IsHead));
                fresh[1].ImportState(last, "checkpoint");
            }
            TinyLlama.DisposeAll(before.Values);
        }
        finally
        {
            TinyLlama.DisposeAll(stages);
            TinyLlama.DisposeAll(fresh);
            TinyFamilies.DisposeBatches([batches]);
        }
    }
}
