using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Roberta;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Tasks.Glue;
using ShareLoRA.Training.Trainer;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>
/// A GLUE job's dev metrics through the local pipeline trainer: written on every eval line as `sharelora glue` names
/// them, identical for P = 1 and P = 2 (bitwise before training; after it, to the rounding the trajectories differ by), and equal to <see cref="GlueMetrics"/> over a naive per-example forward of the
/// same weights (the whole <see cref="RobertaModel"/>, one unpadded row at a time, argmax or score).
/// </summary>
public sealed class GlueDevMetricsTrainerTests
{
    [SkippableTheory]
    [InlineData("mrpc")]
    [InlineData("stsb")]
    public void DevMetricsMatchANaivePerExampleForwardAndDoNotDependOnTheStageCount(string task)
    {
        var bpe = SharedAssets.RequireDirectory("tokenizers/roberta-base");
        bool regression = task == "stsb";
        using var folder = new TempFolder();
        var model = Path.Combine(folder.Path, "roberta");
        using (var roberta = RobertaModel.CreateRandom(new RobertaConfig(VocabSize: 50265, HiddenSize: 16, NumLayers: 3, NumHeads: 2,
                   IntermediateSize: 32, MaxPositions: 40, NumLabels: regression ? 1 : 2), seed: 4, initStd: 0.3)) // weights large enough that the head predicts both classes
            roberta.Save(model);
        foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(model, file));
        var (train, dev) = WriteTsvs(folder, regression);

        var one = LocalPipelineTrainer.Run(Job(folder, model, task, 1, "p1", train, dev));
        var two = LocalPipelineTrainer.Run(Job(folder, model, task, 2, "p2", train, dev));
        var evalsOne = MetricsLog.Read(Path.Combine(one.OutputDirectory, MetricsLog.FileName)).Evaluations;
        var evalsTwo = MetricsLog.Read(Path.Combine(two.OutputDirectory, MetricsLog.FileName)).Evaluations;
        Assert.Equal([0L, 2L, 3L], evalsOne.Select(e => e.Step));
        string[] names = regression ? ["dev_pearson", "dev_spearman"] : ["dev_accuracy", "dev_f1"];
        Assert.All(evalsOne, e => Assert.Equal(names, e.Metrics!.Values.Select(v => v.Name)));
        // Before training the weights are the same bits for any P, and so are the metrics (EvalMetrics compares every bit;
        // the JSON round trip keeps them). After updates P = 1 and P = 2 sum the shared gradients in a different order,
        // so the weights agree to rounding only: class predictions still agree, STS-B's correlations to ~1e-6.
        Assert.Equal(evalsOne[0].Metrics, evalsTwo[0].Metrics);
        for (int i = 1; i < evalsOne.Count; i++)
        {
            if (!regression) Assert.Equal(evalsOne[i].Metrics, evalsTwo[i].Metrics);
            else
                foreach (var ((name, v1), (_, v2)) in evalsOne[i].Metrics!.Values.Zip(evalsTwo[i].Metrics!.Values))
                    Assert.True(Math.Abs(v1 - v2) <= 1e-5, $"step {evalsOne[i].Step} {name}: P=1 {v1:R}, P=2 {v2:R}");
        }
        Assert.Equal(evalsOne[^1].Metrics, one.FinalEvalMetrics);
        Assert.Equal(evalsOne[0].Metrics, one.InitialEvalMetrics);
        Assert.Equal(one.Steps[^1].EvalMetrics, one.FinalEvalMetrics);

        // The same three steps in a trainer of our own, then its evaluation against the naive forward of its weights.
        using var trainer = LocalPipelineTrainer.Create(Job(folder, model, task, 2, "naive", train, dev));
        for (int i = 0; i < 3; i++) trainer.TrainStep();
        var eval = trainer.Evaluate()!;
        Assert.Equal(two.FinalEvalMetrics, eval.Metrics);
        Assert.Equal(two.FinalEvalLoss, eval.Loss);

        var naive = NaivePredictions(trainer, model);
        var examples = GlueReader.Read(GlueJobData.SpecOf(trainer.Job), dev);
        Assert.Equal(examples.Count, eval.RowPredictions!.Count);
        if (regression)
        {
            // Padding to the batch's longest row changes the matmul shapes, so the scores agree to rounding only.
            for (int i = 0; i < naive.Length; i++)
                Assert.True(Math.Abs(naive[i] - eval.RowPredictions[i]) <= 1e-5, $"row {i}: naive {naive[i]:R}, pipeline {eval.RowPredictions[i]:R}");
            var expected = GlueMetrics.Regression(naive.Select(x => (double)x).ToList(), examples.Select(e => e.Score).ToList());
            Assert.True(Math.Abs(expected.Metrics["pearson"] - eval.Metrics!["dev_pearson"]!.Value) <= 1e-5);
            Assert.True(Math.Abs(expected.Metrics["spearman"] - eval.Metrics!["dev_spearman"]!.Value) <= 1e-5);
            Assert.True(naive.Distinct().Count() > 1, "the predicted scores should vary");
        }
        else
        {
            Assert.Equal(naive, eval.RowPredictions);
            Assert.True(naive.Distinct().Count() > 1, "both classes should be predicted, or F1 and accuracy test little");
            var expected = GlueMetrics.Classification(GlueTask.Mrpc, naive.Select(x => (int)x).ToList(), examples.Select(e => e.Label).ToList());
            Assert.Equal(GlueDevMetrics.Fields(expected), eval.Metrics);
        }
    }

    // The whole model with the trainer's gathered adapters and its trained head, one eval example at a time, no padding.
    private static float[] NaivePredictions(LocalPipelineTrainer trainer, string modelDir)
    {
        using var bank = trainer.GatherAdapters();
        bank.Context = AdapterForwardContext.Eval;
        using var model = RobertaModel.Load(modelDir, new ModelLoadOptions());
        using var noGrad = no_grad();
        var head = model.HeadParameters().ToDictionary(p => p.Key, p => p.Value);
        foreach (var (name, value) in trainer.Stages[^1].HeadParameters) head[name["head.".Length..]].copy_(value);
        var predictions = new List<float>();
        foreach (var example in trainer.Data.Eval)
        {
            using var scope = NewDisposeScope();
            var ids = tensor(example.InputIds.Select(x => (long)x).ToArray()).view(1, -1);
            var logits = model.Forward(ids, ones_like(ids), null, bank);
            predictions.Add(logits.shape[1] == 1 ? logits.view(-1).item<float>() : logits.argmax(1).item<long>());
        }
        return predictions.ToArray();
    }

    internal static JobConfig Job(TempFolder folder, string modelDir, string task, int stages, string output, string train, string dev)
    {
        var path = folder.Write($"job-{output}.json", $$"""
            {
              "name": "tiny-glue-{{output}}",
              "model": "{{modelDir}}",
              "task": { "kind": "glue", "name": "{{task}}" },
              "data": { "train": "{{train}}", "eval": "{{dev}}", "eval_every": 2, "source_max_len": 24 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["q", "v"] },
              "optim": { "lr": 2e-2, "max_grad_norm": 0.5, "weight_decay": 0.01 },
              "batch": { "micro_batch_size": 3, "micro_batches": 2 },
              "steps": 3,
              "seed": 5,
              "output": "{{Path.Combine(folder.Path, output)}}",
              "pipeline": { "stages": {{stages}} }
            }
            """);
        return JobConfig.Load(path);
    }

    // MRPC's five columns (quality, ids, two strings) or STS-B's ten (score last); the dev set has 11 rows, so the last
    // eval batch is short.
    internal static (string Train, string Dev) WriteTsvs(TempFolder folder, bool regression)
    {
        string[] a =
        [
            "the company said profits rose", "he left the meeting early", "rain is expected on monday", "the film was long and dull",
            "stocks fell sharply today", "she won the race again", "the bridge will close for repairs", "a cat sat on the mat",
            "officials denied the report", "the team lost its last game", "prices climbed for a third week", "new rules take effect soon",
        ];
        string[] b =
        [
            "profits went up , the firm said", "he stayed until the end", "monday should be dry", "the movie dragged on",
            "shares dropped fast", "she lost the race", "repairs will shut the bridge", "the mat had a cat on it",
            "the report was confirmed", "the team won easily", "prices rose again this week", "the rules change next year",
        ];
        string Rows(int from, int count) => string.Concat(Enumerable.Range(from, count).Select(k =>
        {
            int i = k % a.Length, j = (k * 5 + 1) % b.Length;
            return regression
                ? $"{k}\tmain\tf\t2012\t{k:0000}\tnone\tnone\t{a[i]}\t{b[j]}\t{(k * 0.7 % 5):0.000}\n"
                : $"{(k * 7 % 3 == 0 ? 1 : 0)}\t{k}\t{k + 100}\t{a[i]}\t{b[j]}\n";
        }));
        string header = regression
            ? "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
            : "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n";
        return (folder.Write("train.tsv", header + Rows(0, 12)), folder.Write("dev.tsv", header + Rows(3, 11)));
    }
}
