using System.Text.Json;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.TestSupport;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>E2E NLG jobs (GPT-2, label-smoothed completion loss, unsmoothed eval) through the cluster.</summary>
public sealed partial class DistributedTrainingTests
{
    /// <summary>
    /// A "task": {"kind": "e2e"} job on a tiny random GPT-2 with the real BPE over a few rows of the official E2E dev CSV
    /// (as train and eval data), 2 stages on two workers: per-step losses, grad norms, eval losses, the adapter and the
    /// PEFT files are bitwise those of the single-process LocalPipelineTrainer with the same P, so the label smoothing
    /// reaches the cluster's last stage and its eval loss is the unsmoothed one as locally.
    /// </summary>
    [SkippableFact]
    public async Task AnE2eJobOnTwoStagesEqualsTheSingleProcessRunBitwise()
    {
        var bpe = SharedAssets.RequireDirectory("tokenizers/gpt2");
        var devset = SharedAssets.RequireDirectory("data/e2e/devset.csv");
        var cluster = await fixture.ClusterAsync();
        var model = Path.Combine(fixture.Folder, "gpt2-tiny-e2e");
        if (!Directory.Exists(model))
        {
            using (var gpt2 = Gpt2Model.CreateRandom(new Gpt2Config(VocabSize: 50257, MaxPositions: 64, HiddenSize: 16, NumLayers: 4, NumHeads: 2, InnerSize: 32), seed: 17))
                gpt2.Save(model);
            foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(model, file));
        }
        // The header and the first rows of the official dev CSV (one reference a line, no quoted line breaks).
        var lines = File.ReadLines(devset).Take(15).ToList();
        var train = Path.Combine(fixture.Folder, "e2e-train.csv");
        File.WriteAllLines(train, lines.Take(11));
        var eval = Path.Combine(fixture.Folder, "e2e-eval.csv");
        File.WriteAllLines(eval, [lines[0], .. lines.Skip(11)]);
        const string name = "e2e-p2";
        var jobPath = Path.Combine(fixture.Folder, name + ".json");
        File.WriteAllText(jobPath, $$"""
            {
              "name": "{{name}}",
              "model": "{{model}}",
              "task": { "kind": "e2e" },
              "data": { "train": "{{train}}", "eval": "{{eval}}", "eval_every": 2, "source_max_len": 32, "target_max_len": 32 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 32, "dropout": 0.1, "targets": ["q", "v"] },
              "optim": { "lr": 1e-2, "weight_decay": 0.01, "schedule": "linear", "warmup_steps": 1 },
              "batch": { "micro_batch_size": 2, "micro_batches": 2 },
              "steps": 3,
              "seed": 5,
              "output": "{{Path.Combine(fixture.Folder, name)}}",
              "pipeline": { "stages": 2, "schedule": "1f1b" }
            }
            """);
        var (outputDir, referenceOutput, referenceSteps) = RunOnClusterAndLocally(cluster, jobPath, name, steps: 3);
        Assert.NotEqual(referenceSteps[0].GetProperty("loss").GetDouble(), referenceSteps[^1].GetProperty("loss").GetDouble());
        Assert.All(referenceSteps, l => Assert.True(l.GetProperty("target_tokens").GetInt64() > 0));
        Assert.Equal(ClusterRunFixture.EvalLosses(referenceOutput), ClusterRunFixture.EvalLosses(outputDir));
        Assert.Equal([0, 2, 3], ClusterRunFixture.EvalLosses(outputDir).Select(e => e.Step));
        using (var job = JsonDocument.Parse(File.ReadAllText(Path.Combine(outputDir, "job.json"))))
            Assert.Equal(0.1, job.RootElement.GetProperty("task").GetProperty("label_smoothing").GetDouble());

        ClusterRunFixture.AssertAdapterBitwise(referenceOutput, outputDir);
        ClusterRunFixture.AssertPeftFilesEqual(referenceOutput, outputDir);
    }
}
