using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Optimization;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Planning;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.E2e;
using ShareLoRA.Training.Tasks.Glue;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Pipeline;

/// <summary>
/// The one-stage pipeline against the single-process small-system trainers on the same data, seed and
/// hyperparameters (adapter dropout on, one micro-batch per step so the dropout masks are the same draws): per-step
/// losses and the trained adapters (and RoBERTa's head) agree within 1e-5. Not bitwise: the trainers back-propagate
/// the batch MEAN loss (E2E: sum / (mask sum + 0.0001) as a tensor division; GLUE: F.cross_entropy's mean), the
/// pipeline the SUM divided by the step's count as a scalar, which rounds differently in float32.
/// </summary>
public sealed class SingleProcessTrainerEquivalenceTests
{
    private const int Steps = 3;

    [Theory]
    [InlineData(AdapterMethod.ShareA)]
    [InlineData(AdapterMethod.Lora)]
    public void Gpt2OneStagePipelineStepsLikeE2eTrainer(AdapterMethod method)
    {
        using var folder = new TempFolder();
        var dir = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var tokenizer = new CharTokenizer();
        var pairs = new[] { ("name : Aroma", "Aroma is a pub."), ("name : Cotto", "Cotto serves food."), ("area : river", "It is by the river."),
            ("food : Thai", "They serve Thai."), ("name : Vaults", "The Vaults is dear."), ("eatType : cafe", "A cafe.") }
            .Select(p => new E2eTrainingPair(p.Item1, p.Item2)).ToList();
        var hyper = new E2eHyperparameters(LearningRate: 1e-2, WarmupSteps: 1, BatchSize: 3, MaxSeqLen: TinyFamilies.Gpt2.MaxPositions,
            Rank: 4, Alpha: 32, Dropout: 0.1, WeightDecay: 0.01, LabelSmoothing: 0.1, MaxGradNorm: 0);
        const long seed = 4;

        List<double> expectedLosses;
        Dictionary<string, Tensor> expected;
        using (var model = Gpt2Model.Load(dir, new ModelLoadOptions()))
        using (var trainer = new E2eTrainer(model, tokenizer, new E2eTrainingOptions(method, hyper, Steps: Steps, Seed: seed)))
        {
            expectedLosses = trainer.Train(pairs, []).Losses.ToList();
            expected = Copy(trainer.Bank.Parameters.Select(p => (p.Name, p.Value)));
        }

        // The same steps through PipelineStage: E2eTrainer's batch order, its padding (EOS, attention 0), labels on the
        // completion, and its loss denominator (completion tokens + 0.0001).
        var encoder = new E2eSequenceEncoder(tokenizer, TinyFamilies.Gpt2.EosTokenId!.Value);
        var encoded = pairs.Select(p => encoder.Encode(p, hyper.MaxSeqLen)).ToArray();
        var steps = Batches(pairs.Count, hyper.BatchSize, seed)
            .Select(rows => (IReadOnlyList<MicroBatchInput>)[LmBatch(rows.Select(r => encoded[r]).ToList(), encoder.EosId)]).ToList();
        var layout = AdapterLayout.ForMethod(method.Name(), TinyFamilies.Gpt2.NumLayers, Gpt2Model.AdapterDims(TinyFamilies.Gpt2),
            E2eTrainer.Targets, hyper.Rank, hyper.Alpha, hyper.Dropout);
        var optimizer = new AdamWSettings(hyper.LearningRate, WeightDecay: hyper.WeightDecay);
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.Linear, hyper.LearningRate, Math.Min(hyper.WarmupSteps, Steps), Steps);
        try
        {
            var (losses, actual) = TinyFamilies.Train(
                TinyFamilies.Stages(dir, TinyFamilies.Gpt2.NumLayers, layout, 1, optimizer, labelSmoothing: hyper.LabelSmoothing, adapterSeed: seed),
                optimizer, ScheduleKind.GPipe, steps, b => TinyLlama.Targets(b[0]) + 0.0001, schedule.At, hyper.MaxGradNorm);
            TinyFamilies.AssertLossesClose(expectedLosses, losses, 1e-5, $"e2e {method.Name()}");
            TinyFamilies.AssertClose(expected, actual, 1e-5, $"e2e {method.Name()}");
            TinyLlama.DisposeAll(actual.Values);
        }
        finally
        {
            TinyLlama.DisposeAll(expected.Values);
            TinyFamilies.DisposeBatches(steps);
        }
    }

    [Theory]
    [InlineData(AdapterMethod.ShareA, false)]
    [InlineData(AdapterMethod.Lora, false)]
    [InlineData(AdapterMethod.ShareA, true)]
    public void RobertaOneStagePipelineStepsLikeGlueTrainer(AdapterMethod method, bool regression)
    {
        using var folder = new TempFolder();
        int numLabels = regression ? 1 : 2;
        var config = TinyFamilies.Roberta(numLabels);
        var dir = TinyFamilies.SaveRoberta(Path.Combine(folder.Path, "roberta"), numLabels);
        var tokenizer = new CharTokenizer();
        var task = regression ? GlueTasks.Stsb : GlueTasks.Sst2;
        var sentences = new[] { "a good film", "dull and long", "quiet nights", "the actors shine", "some days", "never again", "fine" };
        var train = sentences.Select((s, i) => new GlueExample(i + 2, s, regression && i % 2 == 0 ? "a film" : null, i % 2, i * 0.7)).ToList();
        var hyper = new GlueHyperparameters(LearningRate: 1e-2, Epochs: 1, BatchSize: 3, WarmupRatio: 0.3, MaxSeqLen: 24, Rank: 4, Alpha: 8,
            WeightDecay: 0.1, MaxGradNorm: 1.0, Dropout: 0.1);
        const long seed = 6;

        List<double> expectedLosses;
        Dictionary<string, Tensor> expected;
        using (var model = RobertaModel.Load(dir, new ModelLoadOptions()))
        using (var trainer = new GlueTrainer(model, tokenizer, new GlueTrainingOptions(task, method, hyper, Steps: Steps, Seed: seed, EvaluateAtStart: false)))
        {
            expectedLosses = trainer.Train(train, []).Losses.ToList();
            expected = Copy(trainer.Bank.Parameters.Select(p => (p.Name, p.Value))
                .Concat(model.HeadParameters().Select(p => (RobertaStageModel.HeadPrefix + p.Key, (Tensor)p.Value))));
        }

        var encoder = new GlueInputEncoder(tokenizer, Math.Min(hyper.MaxSeqLen, config.MaxPositions - config.PadTokenId - 1));
        var steps = Batches(train.Count, hyper.BatchSize, seed)
            .Select(rows => (IReadOnlyList<MicroBatchInput>)[ClassifierBatch(rows.Select(r => train[r]).ToList(), encoder, regression)]).ToList();
        var layout = AdapterLayout.ForMethod(method.Name(), config.NumLayers, RobertaModel.AdapterDims(config), GlueTrainer.Targets,
            hyper.Rank, hyper.Alpha, hyper.Dropout);
        var optimizer = new AdamWSettings(hyper.LearningRate, WeightDecay: hyper.WeightDecay);
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.Linear, hyper.LearningRate,
            LearningRateSchedule.WarmupStepsFor(Steps, hyper.WarmupRatio), Steps);
        try
        {
            var (losses, actual) = TinyFamilies.Train(TinyFamilies.Stages(dir, config.NumLayers, layout, 1, optimizer, adapterSeed: seed),
                optimizer, ScheduleKind.GPipe, steps, b => b[0].InputIds.shape[0], schedule.At, hyper.MaxGradNorm);
            TinyFamilies.AssertLossesClose(expectedLosses, losses, 1e-5, $"glue {task.Name} {method.Name()}");
            TinyFamilies.AssertClose(expected, actual, 1e-5, $"glue {task.Name} {method.Name()}");
            TinyLlama.DisposeAll(actual.Values);
        }
        finally
        {
            TinyLlama.DisposeAll(expected.Values);
            TinyFamilies.DisposeBatches(steps);
        }
    }

    /// <summary>The rows of each of the first <see cref="Steps"/> batches, in the order both trainers draw them (ShuffledOrder per epoch).</summary>
    private static List<int[]> Batches(int count, int batchSize, long seed)
    {
        var result = new List<int[]>();
        for (int epoch = 0; result.Count < Steps; epoch++)
        {
            var order = ShuffledOrder.Of(count, seed, epoch);
            for (int start = 0; start < order.Length && result.Count < Steps; start += batchSize)
                result.Add(order.Skip(start).Take(batchSize).ToArray());
        }
        return result;
    }

    private static MicroBatchInput LmBatch(IReadOnlyList<(int[] Ids, int QueryLength)> rows, int eos)
    {
        int width = rows.Max(r => r.Ids.Length);
        var ids = new long[rows.Count * width];
        var mask = new long[rows.Count * width];
        var labels = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < width; c++)
            {
                var (row, q) = rows[r];
                int i = r * width + c;
                ids[i] = c < row.Length ? row[c] : eos;
                mask[i] = c < row.Length ? 1 : 0;
                labels[i] = c >= q && c < row.Length ? row[c] : TokenizedExample.IgnoreIndex;
            }
        return new MicroBatchInput(tensor(ids, [rows.Count, width]).DetachFromDisposeScope(),
            tensor(mask, [rows.Count, width]).DetachFromDisposeScope(), tensor(labels, [rows.Count, width]).DetachFromDisposeScope());
    }

    private static MicroBatchInput ClassifierBatch(IReadOnlyList<GlueExample> examples, GlueInputEncoder encoder, bool regression)
    {
        var rows = examples.Select(encoder.Encode).ToList();
        int width = rows.Max(r => r.Length);
        var ids = new long[rows.Count * width];
        var mask = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < width; c++)
            {
                ids[r * width + c] = c < rows[r].Length ? rows[r][c] : encoder.PadId;
                mask[r * width + c] = c < rows[r].Length ? 1 : 0;
            }
        var labels = regression ? tensor(examples.Select(e => (float)e.Score).ToArray()) : tensor(examples.Select(e => (long)e.Label).ToArray());
        return new MicroBatchInput(tensor(ids, [rows.Count, width]).DetachFromDisposeScope(),
            tensor(mask, [rows.Count, width]).DetachFromDisposeScope(), labels.DetachFromDisposeScope());
    }

    private static Dictionary<string, Tensor> Copy(IEnumerable<(string Name, Tensor Value)> tensors)
    {
        using var noGrad = no_grad();
        return tensors.ToDictionary(t => t.Name, t => t.Value.detach().clone().DetachFromDisposeScope());
    }

    /// <summary>One id per character (3 + code mod 61, inside the tiny vocabulary); &lt;s&gt; 0, pad 1, &lt;/s&gt; and GPT-2's EOS 2.</summary>
    private sealed class CharTokenizer : ITextTokenizer
    {
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => text.Select(c => 3 + c % 61).ToList();
        public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) => string.Concat(ids.Select(i => (char)('a' + i % 26)));
        public int? BosId => 0;
        public int? EosId => 2;
        public int? PadId => 1;
        public int VocabSize => TinyFamilies.Vocab;
    }
}
