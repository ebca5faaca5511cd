using ShareLoRA.Model.IO;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Trainer;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>GLUE jobs (RoBERTa, one loss term per sequence, trained classifier head) through the cluster.</summary>
public sealed partial class DistributedTrainingTests
{
    /// <summary>
    /// A "task": {"kind": "glue"} job on a tiny random RobertaForSequenceClassification (real RoBERTa BPE) over a few-row
    /// TSV (both from <see cref="ClusterRunFixture"/>), 2 stages on two workers: the per-step losses and grad norms, the adapter and the classifier head
    /// are bitwise those of the single-process LocalPipelineTrainer with the same P; the head travels with the last
    /// stage's adapter values; the eval losses and the dev metrics (SST-2 accuracy, STS-B Pearson/Spearman, from the last
    /// stage's row predictions on EvalPartial) too. SST-2 carries class ids, STS-B float scores (regression, num_labels 1)
    /// on the wire.
    /// </summary>
    [SkippableTheory]
    [InlineData("sst2")]
    [InlineData("stsb")]
    public async Task AGlueJobOnTwoStagesEqualsTheSingleProcessRunBitwiseWithItsHead(string task)
    {
        var model = ClusterRunFixture.WriteTinyRoberta(fixture.Folder, task);
        var cluster = await fixture.ClusterAsync();
        var data = ClusterRunFixture.WriteGlueTsv(fixture.Folder, task);
        bool regression = task == "stsb";
        var name = $"glue-{task}-p2";
        var jobPath = Path.Combine(fixture.Folder, name + ".json");
        File.WriteAllText(jobPath, $$"""
            {
              "name": "{{name}}",
              "model": "{{model}}",
              "task": { "kind": "glue", "name": "{{task}}" },
              "data": { "train": "{{data}}", "eval": "{{data}}", "eval_every": 2, "source_max_len": 24 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["q", "v"] },
              "optim": { "lr": 1e-2, "max_grad_norm": 0.5, "weight_decay": 0.01 },
              "batch": { "micro_batch_size": 2, "micro_batches": 3 },
              "steps": 3,
              "seed": 5,
              "output": "{{Path.Combine(fixture.Folder, name)}}",
              "pipeline": { "stages": 2, "schedule": "1f1b" }
            }
            """);
        var (outputDir, referenceOutput, referenceSteps) = RunOnClusterAndLocally(cluster, jobPath, name, steps: 3);
        // The dev loss through the eval stages (one term per row as well), before step 1, at step 2 and at the last.
        Assert.Equal(ClusterRunFixture.EvalLosses(referenceOutput), ClusterRunFixture.EvalLosses(outputDir));
        Assert.Equal([0, 2, 3], ClusterRunFixture.EvalLosses(outputDir).Select(e => e.Step));
        // The dev metrics from the last stage's row predictions, scored by the coordinator: bitwise the reference's, under
        // `sharelora glue`'s names (SST-2 accuracy; STS-B Pearson and Spearman), on every eval line.
        var clusterEvals = MetricsLog.Read(Path.Combine(outputDir, MetricsLog.FileName)).Evaluations;
        var referenceEvals = MetricsLog.Read(Path.Combine(referenceOutput, MetricsLog.FileName)).Evaluations;
        string[] metricNames = regression ? ["dev_pearson", "dev_spearman"] : ["dev_accuracy"];
        Assert.All(referenceEvals, e => Assert.Equal(metricNames, e.Metrics!.Values.Select(v => v.Name)));
        Assert.Equal(referenceEvals.Select(e => (e.Step, e.Metrics)), clusterEvals.Select(e => (e.Step, e.Metrics)));
        Assert.Equal(DevFields(referenceOutput), DevFields(outputDir));
        // The coordinator's run log shows them beside the eval loss ("step 2: eval loss 0.6931, accuracy 0.5000").
        string runLog;
        using (var stream = new FileStream(Path.Combine(outputDir, RunLog.FileName), FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        using (var reader = new StreamReader(stream))
            runLog = reader.ReadToEnd();
        Assert.Matches(regression ? @"step 2: eval loss \d\.\d{4}, pearson (-?\d\.\d{4}|NaN), spearman" : @"step 2: eval loss \d\.\d{4}, accuracy \d\.\d{4}", runLog);
        // One loss term per sequence: 3 micro-batches x 2 rows.
        Assert.All(ClusterRunFixture.StepLines(outputDir), l => Assert.Equal(6, l.GetProperty("target_tokens").GetInt64()));
        Assert.NotEqual(referenceSteps[0].GetProperty("loss").GetDouble(), referenceSteps[^1].GetProperty("loss").GetDouble());

        ClusterRunFixture.AssertAdapterBitwise(referenceOutput, outputDir);
        // The head: trained (differs from the checkpoint's) and bitwise equal; the PEFT SEQ_CLS files byte for byte.
        ClusterRunFixture.AssertHeadBitwiseAndTrained(referenceOutput, outputDir, model);
        ClusterRunFixture.AssertPeftFilesEqual(referenceOutput, outputDir);
    }

    // Every dev_* field of metrics.jsonl as written (step, name, JSON text): equal text is equal bits for round-trip doubles.
    private static List<string> DevFields(string outputDirectory) =>
        File.ReadAllLines(Path.Combine(outputDirectory, MetricsLog.FileName))
            .Where(l => l.Length > 0)
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.Clone())
            .Where(l => !l.TryGetProperty("event", out _))
            .SelectMany(l => l.EnumerateObject().Where(p => p.Name.StartsWith(EvalMetrics.FieldPrefix, StringComparison.Ordinal))
                .Select(p => $"{l.GetProperty("step").GetInt32()} {p.Name} {p.Value.GetRawText()}"))
            .ToList();

}
