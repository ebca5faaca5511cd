using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Tasks.E2e;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>A job with "task": {"kind": "e2e"} over a GPT-2 directory: E2E pairs through the local pipeline trainer.</summary>
public sealed class E2eTrainJobTests
{
    // Short MRs so query + completion fit the tiny model's 32 positions uncut.
    internal const string Csv = """
        mr,ref
        "name[Aroma]",Aroma is Thai.
        "name[Aroma]",Thai at Aroma.
        "name[Cotto]",Cotto is a pub.
        "name[Cotto]",Visit Cotto.
        "name[Cotto]",Cotto is fun.
        "name[Vaults]",By the river.

        """;

    internal static JobConfig Job(TempFolder folder, string modelDir, int stages, string train, string? eval = null, string task = """{ "kind": "e2e" }""",
        string extraData = "")
    {
        var evalField = eval is null ? "" : $"\"eval\": \"{eval}\", \"eval_every\": 2,";
        var path = folder.Write($"job-{Guid.NewGuid():N}.json", $$"""
            {
              "name": "tiny-e2e",
              "model": "{{modelDir}}",
              "task": {{task}},
              "data": { "train": "{{train}}", {{evalField}} {{extraData}} "source_max_len": 16, "target_max_len": 16 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 32, "dropout": 0.1, "targets": ["q", "v"] },
              "optim": { "lr": 1e-2, "weight_decay": 0.01, "schedule": "linear", "warmup_steps": 1 },
              "batch": { "micro_batch_size": 2, "micro_batches": 2 },
              "steps": 3,
              "seed": 5,
              "output": "{{Path.Combine(folder.Path, $"out-{Guid.NewGuid():N}")}}",
              "pipeline": { "stages": {{stages}} }
            }
            """);
        return JobConfig.Load(path);
    }

    [Fact]
    public void TheE2eTaskSectionParsesRoundTripsAndRejectsBadFields()
    {
        using var folder = new TempFolder();
        var job = Job(folder, "model", 1, "train.csv");
        Assert.Equal(new TaskConfig("e2e", null, 0.1), job.Task); // the paper's eps by default
        var explicitZero = Job(folder, "model", 1, "train.csv", task: """{ "kind": "e2e", "label_smoothing": 0 }""");
        Assert.Equal(0.0, explicitZero.Task!.LabelSmoothing);
        var json = job.ToJson();
        var again = JobConfig.Parse(json, "saved", folder.Path);
        Assert.Equal(job.Task, again.Task);
        Assert.Equal(json, again.ToJson());

        var one = Assert.Throws<JobConfigException>(() => Job(folder, "model", 1, "train.csv", task: """{ "kind": "e2e", "label_smoothing": 1.0 }"""));
        Assert.Contains("task.label_smoothing", one.Message);
        Assert.Contains("must be >= 0 and < 1", one.Message);
        var negative = Assert.Throws<JobConfigException>(() => Job(folder, "model", 1, "train.csv", task: """{ "kind": "e2e", "label_smoothing": -0.1 }"""));
        Assert.Contains("task.label_smoothing", negative.Message);
        var named = Assert.Throws<JobConfigException>(() => Job(folder, "model", 1, "train.csv", task: """{ "kind": "e2e", "name": "sst2" }"""));
        Assert.Contains("task.name", named.Message);
        var glue = Assert.Throws<JobConfigException>(() => Job(folder, "model", 1, "train.csv", task: """{ "kind": "glue", "name": "sst2", "label_smoothing": 0.1 }"""));
        Assert.Contains("task.label_smoothing", glue.Message);
        var unknown = Assert.Throws<JobConfigException>(() => Job(folder, "model", 1, "train.csv", task: """{ "kind": "e2e", "smoothing": 0.1 }"""));
        Assert.Contains("smoothing", unknown.Message);
    }

    [Fact]
    public void TheExampleE2eJobLoadsWithThePaperSettings()
    {
        var job = JobConfig.Load(Path.Combine(ShareLoRA.TestSupport.SharedAssets.RepoRoot, "jobs", "example-e2e-gpt2-medium.json"));
        Assert.Equal(new TaskConfig("e2e", null, 0.1), job.Task);
        Assert.Equal(8, job.SequencesPerStep);
        Assert.Equal(5, job.Epochs);
        Assert.Equal(26290, JobSteps.Resolve(job, 42061).Steps); // the 5 epochs of the official train set
        Assert.Equal(["q", "v"], job.Adapter.Targets);
        Assert.Equal((4, 32.0, 0.1), (job.Adapter.Rank, job.Adapter.Alpha, job.Adapter.Dropout));
        Assert.Equal((2e-4, 0.01, "linear", 500, 0.0), (job.Optim.Lr, job.Optim.WeightDecay, job.Optim.Schedule, job.Optim.WarmupSteps, job.Optim.MaxGradNorm));
        Assert.Equal(512, job.Data.SourceMaxLen + job.Data.TargetMaxLen);
    }

    [Fact]
    public void AnE2eTaskOverARobertaOrLlamaModelFailsNamingItsConfig()
    {
        using var folder = new TempFolder();
        var roberta = TinyFamilies.SaveRoberta(Path.Combine(folder.Path, "roberta"));
        var llama = Path.Combine(folder.Path, "llama");
        Directory.CreateDirectory(llama);
        File.WriteAllText(Path.Combine(llama, "config.json"), """{ "model_type": "llama" }""");
        foreach (var model in new[] { roberta, llama })
        {
            var e = Assert.Throws<JobConfigException>(() => LocalPipelineTrainer.ResolveModelShape(Job(folder, model, 1, "train.csv")));
            Assert.Contains(Path.Combine(model, "config.json"), e.Message);
            Assert.Contains("needs a GPT-2 model", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var (shape, _) = LocalPipelineTrainer.ResolveModelShape(Job(folder, gpt2, 2, "train.csv"));
        Assert.Equal(ShareLoRA.Model.ModelFamily.Gpt2, shape.Family);
        // A GLUE task over GPT-2 is still refused the other way round.
        var glue = Assert.Throws<JobConfigException>(() => LocalPipelineTrainer.ResolveModelShape(
            Job(folder, gpt2, 1, "train.tsv", task: """{ "kind": "glue", "name": "sst2" }""")));
        Assert.Contains("needs a RoBERTa sequence classifier", glue.Message);
    }

    [Fact]
    public void E2eDataHasOneSequencePerReferenceWithLabelsExactlyOnTheCompletion()
    {
        using var folder = new TempFolder();
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var train = folder.Write("train.csv", Csv);
        var tokenizer = new ModTokenizer();
        var data = E2eJobData.Prepare(Job(folder, gpt2, 1, train, eval: train, extraData: "\"eval_max_examples\": 4,"), tokenizer);

        Assert.Equal(6, data.Train.Count);   // 2 + 3 + 1 references
        Assert.Equal(4, data.Eval.Count);    // eval_max_examples
        Assert.Equal("e2e", data.Report.Format);
        Assert.Equal(0, data.Report.TruncatedExamples);
        var pairs = E2eReader.ReadTrainingPairs(train);
        Assert.Equal("name : Cotto", pairs[2].Context);
        for (int i = 0; i < pairs.Count; i++)
        {
            int[] query = [.. tokenizer.Encode(pairs[i].Context, false), ModTokenizer.Eos];
            int[] completion = [.. tokenizer.Encode(" " + pairs[i].Completion, false), ModTokenizer.Eos];
            var example = data.Train[i];
            Assert.Equal([.. query, .. completion], example.InputIds);
            Assert.All(example.Labels.Take(query.Length), l => Assert.Equal(TokenizedExample.IgnoreIndex, l));
            Assert.Equal(completion, example.Labels.Skip(query.Length)); // every completion token, the final EOS included
        }

        // LoRA's processed text gives the same sequences.
        var text = folder.Write("train.txt", string.Concat(pairs.Select(p => $"{p.Context}||{p.Completion}\n")));
        var fromText = E2eJobData.Prepare(Job(folder, gpt2, 1, text), tokenizer);
        Assert.Equal(data.Train.Select(e => e.InputIds), fromText.Train.Select(e => e.InputIds));
        Assert.Equal(data.Train.Select(e => e.Labels), fromText.Train.Select(e => e.Labels));
    }

    [Fact]
    public void LongPairsAreCutAsE2eTrainerCutsAndBadRowsNameFileAndLine()
    {
        using var folder = new TempFolder();
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var tokenizer = new ModTokenizer();
        var longRef = folder.Write("long.csv", "mr,ref\n\"name[Aroma]\",Aroma is a very fine Thai place by the river.\n");
        var cut = E2eJobData.Prepare(Job(folder, gpt2, 1, longRef), tokenizer);
        Assert.Equal(32, cut.Train[0].Length); // source_max_len + target_max_len = n_positions = 32
        Assert.Equal(1, cut.Report.TruncatedExamples);

        var bad = folder.Write("bad.csv", "mr,ref\n\"name[Aroma]\",Aroma is Thai.\n\"name[Cotto]\",Cotto,extra\n");
        var e = Assert.Throws<DatasetException>(() => E2eJobData.Prepare(Job(folder, gpt2, 1, bad), tokenizer));
        Assert.StartsWith($"{bad}:3:", e.Message);
        var mr = folder.Write("mr.csv", "mr,ref\n\"name[Aroma]\",Aroma is Thai.\n\"name Cotto\",Cotto.\n");
        var m = Assert.Throws<DatasetException>(() => E2eJobData.Prepare(Job(folder, gpt2, 1, mr), tokenizer));
        Assert.StartsWith($"{mr}:3:", m.Message);
        var fraction = Assert.Throws<JobConfigException>(() => E2eJobData.Prepare(Job(folder, gpt2, 1, longRef, extraData: "\"eval_fraction\": 0.2,"), tokenizer));
        Assert.Contains("data.eval_fraction", fraction.Message);
    }

    [Fact]
    public void AnE2eJobOnTwoStagesFollowsTheOneStageRun()
    {
        using var folder = new TempFolder();
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var train = folder.Write("train.csv", Csv);
        var tokenizer = new ModTokenizer();
        var runs = new List<(List<double> Losses, Dictionary<string, Tensor> Adapters)>();
        foreach (var stages in new[] { 1, 2 })
        {
            var job = Job(folder, gpt2, stages, train);
            using var trainer = new LocalPipelineTrainer(job, E2eJobData.Prepare(job, tokenizer), BatchCollator.PadIdOf(tokenizer));
            Assert.Equal(0.1, Assert.IsType<Gpt2StageModel>(trainer.Stages[^1].Model).LabelSmoothing);
            var losses = Enumerable.Range(0, job.Steps).Select(_ => trainer.TrainStep().Loss).ToList();
            using var bank = trainer.GatherAdapters();
            runs.Add((losses, bank.Parameters.ToDictionary(p => p.Name, p => p.Value.detach().clone().DetachFromDisposeScope())));
        }
        TinyFamilies.AssertLossesClose(runs[0].Losses, runs[1].Losses, 1e-5, "e2e job P=2");
        TinyFamilies.AssertClose(runs[0].Adapters, runs[1].Adapters, 1e-5, "e2e job P=2");
        Assert.NotEqual(runs[0].Losses[0], runs[0].Losses[^1]);
        foreach (var run in runs) TinyLlama.DisposeAll(run.Adapters.Values);
    }

    [Fact]
    public void LabelSmoothingChangesTheTrainingLossButTheEvalLossIsPlainCrossEntropy()
    {
        using var folder = new TempFolder();
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var train = folder.Write("train.csv", Csv);
        var tokenizer = new ModTokenizer();
        var results = new Dictionary<double, (double Loss, double Eval, double Hand, double HandSmoothed)>();
        foreach (var eps in new[] { 0.0, 0.1 })
        {
            var job = Job(folder, gpt2, 2, train, eval: train, task: $$"""{ "kind": "e2e", "label_smoothing": {{eps.ToString(System.Globalization.CultureInfo.InvariantCulture)}} }""");
            var data = E2eJobData.Prepare(job, tokenizer);
            using var trainer = new LocalPipelineTrainer(job, data, BatchCollator.PadIdOf(tokenizer));
            double loss = trainer.TrainStep().Loss;
            double eval = trainer.Evaluate()!.Loss;
            // By hand: the whole model with the trained adapters (eval mode), token-weighted CE over the eval set.
            using var bank = trainer.GatherAdapters();
            bank.Context = AdapterForwardContext.Eval;
            using var model = Gpt2Model.Load(gpt2, new ShareLoRA.Model.Llama.ModelLoadOptions());
            double sum = 0, smoothedSum = 0, count = 0;
            using (no_grad())
                foreach (var e in data.Eval)
                {
                    using var scope = NewDisposeScope();
                    var ids = tensor(e.InputIds.Select(i => (long)i).ToArray()).view(1, -1);
                    var logits = model.Forward(ids, 0, null, bank, ones_like(ids));
                    var labels = tensor(e.Labels.Select(i => (long)i).ToArray()).view(1, -1);
                    var (plain, n) = CausalLmLoss.Sum(logits, labels);
                    sum += plain.to_type(ScalarType.Float64).item<double>();
                    smoothedSum += CausalLmLoss.Sum(logits, labels, 0.1).LossSum.to_type(ScalarType.Float64).item<double>();
                    count += n;
                }
            results[eps] = (loss, eval, sum / count, smoothedSum / count);
        }
        // Same data, init and dropout: only eps differs, and it moves the first step's loss.
        Assert.NotEqual(results[0.0].Loss, results[0.1].Loss);
        foreach (var (eps, r) in results)
        {
            Assert.True(Math.Abs(r.Eval - r.Hand) <= 1e-5 * r.Hand, $"eps {eps}: eval {r.Eval:R}, plain CE by hand {r.Hand:R}");
            Assert.True(Math.Abs(r.Eval - r.HandSmoothed) > 1e-3, $"eps {eps}: eval {r.Eval:R} is the smoothed loss {r.HandSmoothed:R}");
        }
    }

    /// <summary>One id per character inside the tiny vocabulary (3 + code mod 61); EOS 2 as the tiny GPT-2's, no pad.</summary>
    internal sealed class ModTokenizer : ITextTokenizer
    {
        public const int Eos = 2;
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => text.Select(c => 3 + c % 61).ToList();
        public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) => string.Concat(ids.Select(i => (char)('a' + i % 26)));
        public int? BosId => Eos;
        public int? EosId => Eos;
        public int? PadId => null;
        public int VocabSize => TinyFamilies.Vocab;
    }
}
