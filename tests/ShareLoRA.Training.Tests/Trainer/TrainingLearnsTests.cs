using ShareLoRA.Model.Adapters;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Trainer;
using Xunit;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>The demo job (jobs/tiny-share-a.json) on the real stories260K model and alpaca-libre data.</summary>
public sealed class TrainingLearnsTests
{
    private static JobConfig DemoJob(string output, params string[] extra)
    {
        var model = SharedAssets.Stories260K;
        var data = SharedAssets.RequireDirectory("data/alpaca-libre/alpaca_libre_tasks_v3.jsonl");
        var job = Path.Combine(SharedAssets.RepoRoot, "jobs", "tiny-share-a.json");
        return JobConfig.Load(job, [$"model={model}", $"data.train={data}", $"output={output}", "data.eval_max_examples=32", .. extra]);
    }

    [SkippableFact]
    public void TwoHundredShareASteps_LowerTheHeldOutEvalLoss()
    {
        using var folder = new TempFolder();
        // Evaluate only before the first and after the last step; the job's own settings otherwise.
        // Shorter sequences than the demo keep the test quick; the step count and the method are the job's.
        var job = DemoJob(Path.Combine(folder.Path, "run"), "data.eval_every=200", "data.source_max_len=64", "data.target_max_len=64");
        Assert.Equal(200, job.Steps);
        Assert.Equal("share-a", job.Adapter.Method);

        var result = LocalPipelineTrainer.Run(job);

        Assert.Equal(200, result.Steps.Count);
        Assert.True(result.FinalEvalLoss < result.InitialEvalLoss - 0.1,
            $"eval loss went from {result.InitialEvalLoss:R} to {result.FinalEvalLoss:R}");
        Assert.True(File.Exists(Path.Combine(result.AdapterDirectory, PeftAdapterFormat.WeightsFileName)));
        Assert.Contains("done: 200 steps", File.ReadAllText(Path.Combine(result.OutputDirectory, RunLog.FileName)));
    }

    [SkippableFact]
    public void TheDemoJobTwice_GivesBitwiseEqualLossesAndAdapterFiles()
    {
        using var folder = new TempFolder();
        var outputs = new[] { "a", "b" }.Select(n => Path.Combine(folder.Path, n)).ToArray();
        foreach (var output in outputs)
            LocalPipelineTrainer.Run(DemoJob(output, "steps=6", "data.eval_every=3", "data.source_max_len=64", "data.target_max_len=64"));
        Assert.Equal(Losses(outputs[0]), Losses(outputs[1]));
        foreach (var file in new[] { PeftAdapterFormat.WeightsFileName, NativeAdapterFormat.FileName })
            Assert.Equal(File.ReadAllBytes(Path.Combine(outputs[0], "adapter", file)), File.ReadAllBytes(Path.Combine(outputs[1], "adapter", file)));
    }

    [SkippableFact]
    public void EmptyDataFailsBeforeTraining()
    {
        using var folder = new TempFolder();
        var empty = folder.Write("empty.jsonl", "\n");
        var output = Path.Combine(folder.Path, "run");
        var ex = Assert.Throws<ShareLoRA.Training.Data.DatasetException>(() =>
            LocalPipelineTrainer.Run(DemoJob(output, $"data.train={empty}", "data.eval_fraction=0", "data.eval_every=0")));
        Assert.Contains("empty.jsonl: no training examples", ex.Message);
        Assert.False(File.Exists(Path.Combine(output, MetricsWriter.FileName)));
        Assert.Contains("training failed", File.ReadAllText(Path.Combine(output, RunLog.FileName)));
    }

    private static List<string> Losses(string output) =>
        File.ReadAllLines(Path.Combine(output, MetricsWriter.FileName))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .Select(e => (e.TryGetProperty("loss", out var l) ? l.GetRawText() : "-") + "/" + (e.TryGetProperty("eval_loss", out var v) ? v.GetRawText() : "-"))
            .ToList();
}
