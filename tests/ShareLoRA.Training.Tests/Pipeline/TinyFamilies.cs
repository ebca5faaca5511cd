using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Planning;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Pipeline;

/// <summary>
/// Tiny random GPT-2 and RoBERTa checkpoints saved as Hugging Face directories, their stage chains loaded through
/// <see cref="PipelineStage.Load"/>, micro-batches for each, and a runner of whole optimizer steps exactly as the local
/// trainer does them (<see cref="PipelineOptimizerStep"/>).
/// </summary>
internal static class TinyFamilies
{
    public const long ModelSeed = 21;
    public const long AdapterSeed = 5;
    public const int Vocab = 64;

    public static readonly Gpt2Config Gpt2 = new(VocabSize: Vocab, MaxPositions: 32, HiddenSize: 16, NumLayers: 3, NumHeads: 2, InnerSize: 32,
        BosTokenId: 2, EosTokenId: 2);

    public static RobertaConfig Roberta(int numLabels = 2) => new(VocabSize: Vocab, HiddenSize: 16, NumLayers: 3, NumHeads: 2, IntermediateSize: 32,
        MaxPositions: 40, NumLabels: numLabels);

    /// <summary>Every module type the GPT-2 / RoBERTa adapter hooks reach (q, k, v, o, up, down).</summary>
    public static readonly IReadOnlyList<TargetModule> AllTargets =
        [TargetModule.Q, TargetModule.K, TargetModule.V, TargetModule.O, TargetModule.Up, TargetModule.Down];

    /// <summary>A random GPT-2 (<see cref="Gpt2"/> unless <paramref name="config"/> is given) saved as an HF directory.</summary>
    public static string SaveGpt2(string dir, Gpt2Config? config = null)
    {
        using var model = Gpt2Model.CreateRandom(config ?? Gpt2, ModelSeed, initStd: 0.1);
        model.Save(dir);
        return dir;
    }

    /// <summary>A random RoBERTa classifier (<see cref="Roberta"/> unless <paramref name="config"/> is given) saved as an HF directory.</summary>
    public static string SaveRoberta(string dir, int numLabels = 2, RobertaConfig? config = null)
    {
        using var model = RobertaModel.CreateRandom(config ?? Roberta(numLabels), ModelSeed, initStd: 0.1);
        model.Save(dir);
        return dir;
    }

    /// <summary>P stages over the model in <paramref name="dir"/>; when <paramref name="values"/> is given, every bank takes them.</summary>
    public static List<PipelineStage> Stages(string dir, int layers, AdapterLayout layout, int p, AdamWSettings optimizer,
        IReadOnlyDictionary<string, Tensor>? values = null, double labelSmoothing = 0, long adapterSeed = AdapterSeed)
    {
        var list = new List<PipelineStage>();
        try
        {
            var ranges = TinyLlama.Split(layers, p);
            for (int s = 0; s < p; s++)
            {
                var stage = PipelineStage.Load(dir, s, ranges[s].First, ranges[s].End, s == 0, s == p - 1, layout, adapterSeed, optimizer,
                    labelSmoothing: labelSmoothing);
                list.Add(stage);
                if (values is not null) stage.Adapters.LoadValues(values, ignoreOthers: true);
            }
            return list;
        }
        catch
        {
            TinyLlama.DisposeAll(list);
            throw;
        }
    }

    /// <summary>RoBERTa micro-batch: &lt;s&gt; tokens &lt;/s&gt;, right-padded with pad id 1; one label per row (class id, or a float score when regression).</summary>
    public static MicroBatchInput RobertaBatch(long seed, bool regression, int rows = 3, int columns = 8)
    {
        var rng = new Random((int)seed);
        var ids = new long[rows * columns];
        var mask = new long[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            int length = columns - r;
            for (int c = 0; c < columns; c++)
            {
                int i = r * columns + c;
                ids[i] = c == 0 ? 0 : c == length - 1 ? 2 : c < length ? rng.Next(3, Vocab) : 1;
                mask[i] = c < length ? 1 : 0;
            }
        }
        var labels = regression
            ? tensor(Enumerable.Range(0, rows).Select(_ => (float)(rng.NextDouble() * 5)).ToArray())
            : tensor(Enumerable.Range(0, rows).Select(_ => (long)rng.Next(2)).ToArray());
        return new MicroBatchInput(
            tensor(ids, [rows, columns], ScalarType.Int64).DetachFromDisposeScope(),
            tensor(mask, [rows, columns], ScalarType.Int64).DetachFromDisposeScope(),
            labels.DetachFromDisposeScope());
    }

    /// <summary>The loss divisor of a micro-batch set: target tokens for a causal LM, sequences for a classifier.</summary>
    public static double Divisor(IReadOnlyList<MicroBatchInput> batches, bool causal) =>
        causal ? batches.Sum(TinyLlama.Targets) : batches.Sum(b => b.InputIds.shape[0]);

    /// <summary>
    /// Runs one optimizer step per entry of <paramref name="steps"/> through the stages (schedule <paramref name="kind"/>)
    /// and a shared server seeded from stage 0; returns each step's loss and copies of every trained tensor at the end
    /// (shared masters, per-layer tensors, the head). Disposes the stages.
    /// </summary>
    public static (List<double> Losses, Dictionary<string, Tensor> Final) Train(List<PipelineStage> stages, AdamWSettings optimizer,
        ScheduleKind kind, IReadOnlyList<IReadOnlyList<MicroBatchInput>> steps, Func<IReadOnlyList<MicroBatchInput>, double> divisor,
        Func<int, double> learningRate, double maxGradNorm)
    {
        try
        {
            using var server = SharedParameterServer.FromBank(stages[0].Adapters, optimizer);
            var losses = new List<double>();
            for (int step = 0; step < steps.Count; step++)
            {
                using var scope = NewDisposeScope();
                double d = divisor(steps[step]);
                var schedule = PipelineSchedule.Create(kind, stages.Count, steps[step].Count);
                var outcome = PipelineOptimizerStep.Run(stages, server, schedule, step, steps[step], d, learningRate(step), maxGradNorm);
                losses.Add(outcome.LossSum / d);
            }
            var final = new Dictionary<string, Tensor>();
            foreach (var (name, value) in server.Values()) final[name] = value;
            using (no_grad())
                foreach (var stage in stages)
                {
                    foreach (var p in stage.LocalParameters) final[p.Name] = p.Value.detach().clone();
                    foreach (var (name, value) in stage.HeadParameters) final[name] = value.detach().clone();
                }
            return (losses, final);
        }
        finally
        {
            TinyLlama.DisposeAll(stages);
        }
    }

    /// <summary>
    /// Every tensor of <paramref name="actual"/> within <paramref name="tolerance"/> x max(1, max |expected|) of
    /// <paramref name="expected"/>: absolute for values below 1. After AdamW steps a relative bound per tensor is the
    /// wrong yardstick: Adam divides by sqrt(v), so float noise of a near-zero gradient element (different summation
    /// orders across partitions) moves that element by lr x noise / (|g| + eps), independent of the tensor's scale.
    /// </summary>
    public static void AssertClose(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual, double tolerance, string what)
    {
        Xunit.Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            using var scope = NewDisposeScope();
            var a = actual[name];
            double scale = Math.Max(1, e.abs().max().item<float>());
            double diff = (a.to_type(e.dtype) - e).abs().max().item<float>();
            Xunit.Assert.True(diff <= tolerance * scale, $"{what}: {name} differs by {diff:R} (scale {scale:R})");
        }
    }

    public static void AssertLossesClose(IReadOnlyList<double> expected, IReadOnlyList<double> actual, double tolerance, string what)
    {
        Xunit.Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Xunit.Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])),
                $"{what}: step {i + 1} loss {actual[i]:R} vs {expected[i]:R}");
    }

    public static void DisposeBatches(IEnumerable<IReadOnlyList<MicroBatchInput>> steps)
    {
        foreach (var b in steps.SelectMany(s => s)) { b.InputIds.Dispose(); b.AttentionMask.Dispose(); b.Labels.Dispose(); }
    }
}
