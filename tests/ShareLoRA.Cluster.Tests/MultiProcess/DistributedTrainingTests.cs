using System.Text.Json;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Trainer;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// The central test of the cluster: the same job on 1, 2 and 3 stages in separate worker processes follows the
/// single-process reference trainer (P = 1) step for step, and writes the same adapter. One cluster of a seed and
/// three workers serves every job of this class.
/// </summary>
public sealed partial class DistributedTrainingTests(ClusterRunFixture fixture) : IClassFixture<ClusterRunFixture>
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(4);

    [SkippableTheory]
    [InlineData(2, "share-a", "1f1b")]
    [InlineData(3, "lora", "gpipe")]
    [InlineData(1, "share-a", "gpipe")]
    public async Task ClusterRunMatchesTheSingleProcessTrainer(int stages, string method, string schedule)
    {
        var model = SharedAssets.Stories260K;
        var cluster = await fixture.ClusterAsync();
        var name = $"{method}-p{stages}-{schedule}";
        var jobPath = ClusterRunFixture.WriteJob(fixture.Folder, name, model, fixture.DataFile, method, stages, schedule);

        using (var submit = NodeProcess.Start(["submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait", .. cluster.TlsArguments("client")]))
        {
            int exit = submit.WaitForExit(JobTimeout);
            Assert.True(exit == 0, $"submit --wait exited {exit}:\n{submit.Output}\n{cluster.Outputs()}");
        }

        var referenceOutput = Path.Combine(fixture.Folder, name + "-reference");
        LocalPipelineTrainer.Run(ClusterRunFixture.Load(jobPath, "pipeline.stages=1", $"output={referenceOutput}"));

        var clusterSteps = ClusterRunFixture.StepLines(Path.Combine(fixture.Folder, name));
        var referenceSteps = ClusterRunFixture.StepLines(referenceOutput);
        Assert.Equal(3, referenceSteps.Count);
        Assert.Equal(referenceSteps.Count, clusterSteps.Count);
        for (int i = 0; i < referenceSteps.Count; i++)
        {
            double expected = referenceSteps[i].GetProperty("loss").GetDouble(), actual = clusterSteps[i].GetProperty("loss").GetDouble();
            Assert.True(Math.Abs(actual - expected) <= 1e-5 * Math.Abs(expected),
                $"{name} step {i + 1}: cluster loss {actual:R}, single-process {expected:R}");
            Assert.Equal(referenceSteps[i].GetProperty("target_tokens").GetInt64(), clusterSteps[i].GetProperty("target_tokens").GetInt64());
            double bubble = clusterSteps[i].GetProperty("bubble_fraction").GetDouble();
            Assert.InRange(bubble, 0, 1);
            Assert.Equal(stages > 1, clusterSteps[i].GetProperty("activation_bytes").GetInt64() > 0);
        }
        Assert.NotEqual(referenceSteps[0].GetProperty("loss").GetDouble(), referenceSteps[^1].GetProperty("loss").GetDouble());

        using var clusterAdapter = ClusterRunFixture.LoadAdapter(Path.Combine(fixture.Folder, name));
        using var referenceAdapter = ClusterRunFixture.LoadAdapter(referenceOutput);
        Assert.Equal(referenceAdapter.Parameters.Select(p => p.Name).Order(), clusterAdapter.Parameters.Select(p => p.Name).Order());
        foreach (var expected in referenceAdapter.Parameters)
        {
            using var scope = NewDisposeScope();
            var actual = clusterAdapter.Find(expected.Name)!;
            double diff = (actual.Value - expected.Value).abs().max().item<float>();
            Assert.True(diff <= 1e-5, $"{name}: adapter tensor {expected.Name} differs by {diff:R} from the single-process run");
        }
        Assert.True(File.Exists(Path.Combine(fixture.Folder, name, "adapter", "adapter_model.safetensors")), "PEFT adapter missing");
    }

    [SkippableFact]
    public async Task ClusterEvalLossesEqualTheSingleProcessRunsBitwiseAndMarkTheCheckpoints()
    {
        var model = SharedAssets.Stories260K;
        var cluster = await fixture.ClusterAsync();
        const string name = "eval-p2";
        // eval_every 3 over 4 steps: before the first step, after step 3 and after the last (4).
        var jobPath = ClusterRunFixture.WriteJob(fixture.Folder, name, model, fixture.DataFile, "share-a", 2, "1f1b", steps: 4,
            checkpointEvery: 3, evalData: fixture.EvalFile, evalEvery: 3);
        using (var submit = NodeProcess.Start(["submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait", .. cluster.TlsArguments("client")]))
        {
            int exit = submit.WaitForExit(JobTimeout);
            Assert.True(exit == 0, $"submit --wait exited {exit}:\n{submit.Output}\n{cluster.Outputs()}");
            Assert.Contains("eval loss", submit.Output);
        }
        var outputDir = Path.Combine(fixture.Folder, name);
        var referenceOutput = Path.Combine(fixture.Folder, name + "-reference");
        LocalPipelineTrainer.Run(ClusterRunFixture.Load(jobPath, $"output={referenceOutput}"));

        var expected = ClusterRunFixture.EvalLosses(referenceOutput);
        var actual = ClusterRunFixture.EvalLosses(outputDir);
        Assert.Equal([0, 3, 4], expected.Select(e => e.Step));
        Assert.Equal(expected.Select(e => e.Step), actual.Select(e => e.Step));
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i].Loss.Equals(actual[i].Loss),
                $"eval after step {expected[i].Step}: cluster {actual[i].Loss:R}, single-process {expected[i].Loss:R}");
        Assert.NotEqual(expected[0].Loss, expected[^1].Loss); // training moved the eval loss
        // The step-0 baseline is a line of its own, as the local trainer writes it.
        var firstLine = File.ReadLines(Path.Combine(outputDir, MetricsLog.FileName)).First(l => l.Contains("eval_loss"));
        Assert.Equal(File.ReadLines(Path.Combine(referenceOutput, MetricsLog.FileName)).First(l => l.Contains("eval_loss")), firstLine);

        var clusterSteps = ClusterRunFixture.StepLines(outputDir);
        var referenceSteps = ClusterRunFixture.StepLines(referenceOutput);
        Assert.Equal(referenceSteps.Select(l => l.GetProperty("loss").GetDouble()), clusterSteps.Select(l => l.GetProperty("loss").GetDouble()));

        // The checkpoints carry the eval loss of their step (what keeps the best one by eval loss).
        foreach (var step in new[] { 3, 4 })
        {
            var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(outputDir, "checkpoints", $"step-{step:D6}", "manifest.json"))).RootElement;
            Assert.Equal(actual.Single(e => e.Step == step).Loss, manifest.GetProperty("metrics").GetProperty("eval_loss").GetDouble());
        }
        ClusterRunFixture.AssertAdapterBitwise(referenceOutput, outputDir);
    }

    [SkippableFact]
    public async Task AGpt2JobOnTwoStagesEqualsTheSingleProcessRunBitwiseAndExportsPeftOnCAttn()
    {
        var bpe = SharedAssets.RequireDirectory("tokenizers/gpt2");
        var cluster = await fixture.ClusterAsync();
        // A tiny random GPT2LMHeadModel as an HF checkpoint with the real GPT-2 BPE (its 50257 ids), on the shared disk
        // every worker reads.
        var model = Path.Combine(fixture.Folder, "gpt2-tiny");
        if (!Directory.Exists(model))
        {
            using (var gpt2 = Gpt2Model.CreateRandom(new Gpt2Config(VocabSize: 50257, MaxPositions: 64, HiddenSize: 16, NumLayers: 4, NumHeads: 2, InnerSize: 32), seed: 11))
                gpt2.Save(model);
            foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(model, file));
        }
        const string name = "gpt2-p2";
        var jobPath = ClusterRunFixture.WriteJob(fixture.Folder, name, model, fixture.DataFile, "share-a", 2, "1f1b",
            targets: "[\"q\", \"v\", \"o\", \"down\"]", evalData: fixture.EvalFile, evalEvery: 2);
        var (outputDir, referenceOutput, referenceSteps) = RunOnClusterAndLocally(cluster, jobPath, name, steps: 3);
        Assert.NotEqual(referenceSteps[0].GetProperty("loss").GetDouble(), referenceSteps[^1].GetProperty("loss").GetDouble());
        Assert.Equal(ClusterRunFixture.EvalLosses(referenceOutput), ClusterRunFixture.EvalLosses(outputDir));
        Assert.Equal([0, 2, 3], ClusterRunFixture.EvalLosses(outputDir).Select(e => e.Step));

        ClusterRunFixture.AssertAdapterBitwise(referenceOutput, outputDir);
        // GPT-2's PEFT layout (one LoRA on the fused c_attn), written by the coordinator as by the local trainer: same bytes.
        ClusterRunFixture.AssertPeftFilesEqual(referenceOutput, outputDir);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(outputDir, "adapter", "adapter_config.json")));
        Assert.Contains("attn.c_attn", config.RootElement.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
    }

    [SkippableFact]
    public async Task ShareASyncBytesAreTwoTimesStagesTimesRankTimesSharedInputWidthsTimesFourPerStep()
    {
        var model = SharedAssets.Stories260K;
        var cluster = await fixture.ClusterAsync();
        const int stages = 3, rank = 4;
        var jobPath = ClusterRunFixture.WriteJob(fixture.Folder, "sync-bytes", model, fixture.DataFile, "share-a", stages, "1f1b", steps: 2,
            targets: "[\"q\", \"v\", \"down\"]");
        using (var submit = NodeProcess.Start(["submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait", .. cluster.TlsArguments("client")]))
        {
            int exit = submit.WaitForExit(JobTimeout);
            Assert.True(exit == 0, $"submit --wait exited {exit}:\n{submit.Output}\n{cluster.Outputs()}");
        }
        var config = LlamaConfig.Load(Path.Combine(model, "config.json"));
        // Shared A of q, v (input width = hidden) and down (input width = intermediate).
        long sumDIn = config.HiddenSize + config.HiddenSize + config.IntermediateSize;
        long expected = 2L * stages * rank * sumDIn * sizeof(float);
        var steps = ClusterRunFixture.StepLines(Path.Combine(fixture.Folder, "sync-bytes"));
        Assert.Equal(2, steps.Count);
        foreach (var step in steps) Assert.Equal(expected, step.GetProperty("adapter_sync_bytes").GetInt64());
        var log = File.ReadAllText(Path.Combine(fixture.Folder, "sync-bytes", RunLog.FileName));
        Assert.Contains($"adapter sync: {expected} B/step", log);
        Assert.Contains("plain LoRA on the same targets and rank would need", log);
    }
    [SkippableFact]
    public async Task AModelMissingOnTheWorkersFailsTheJobWithTheWorkersMessage()
    {
        var model = SharedAssets.Stories260K;
        var cluster = await fixture.ClusterAsync();
        // The seed needs only config.json and the tokenizer; the workers need the weights, which this copy lacks.
        var partial = Path.Combine(fixture.Folder, "model-without-weights");
        Directory.CreateDirectory(partial);
        foreach (var f in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
            if (File.Exists(Path.Combine(model, f))) File.Copy(Path.Combine(model, f), Path.Combine(partial, f), overwrite: true);
        var jobPath = ClusterRunFixture.WriteJob(fixture.Folder, "no-weights", partial, fixture.DataFile, "share-a", 2, "1f1b");

        using var submit = NodeProcess.Start(["submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait", .. cluster.TlsArguments("client")]);
        int exit = submit.WaitForExit(JobTimeout);
        Assert.Equal(1, exit);
        Assert.Matches(@"error: job no-weights-\d+ failed: stage \d on worker akka\.ssl\.tcp://sharelora@127\.0\.0\.1:\d+: load failed: ", submit.Output);
        Assert.Contains(partial, submit.Output);
    }

    // Runs the job on the cluster (submit --wait) and single-process beside it, and checks that both took the same
    // steps with bitwise-equal losses and grad norms; returns both output folders and the reference's step lines.
    private (string Cluster, string Reference, List<System.Text.Json.JsonElement> ReferenceSteps) RunOnClusterAndLocally(
        LocalCluster cluster, string jobPath, string name, int steps)
    {
        using (var submit = NodeProcess.Start(["submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait", .. cluster.TlsArguments("client")]))
        {
            int exit = submit.WaitForExit(JobTimeout);
            Assert.True(exit == 0, $"submit --wait exited {exit}:\n{submit.Output}\n{cluster.Outputs()}");
        }
        var outputDir = Path.Combine(fixture.Folder, name);
        var referenceOutput = Path.Combine(fixture.Folder, name + "-reference");
        LocalPipelineTrainer.Run(ClusterRunFixture.Load(jobPath, $"output={referenceOutput}"));

        var clusterSteps = ClusterRunFixture.StepLines(outputDir);
        var referenceSteps = ClusterRunFixture.StepLines(referenceOutput);
        Assert.Equal(steps, referenceSteps.Count);
        Assert.Equal(referenceSteps.Select(l => l.GetProperty("loss").GetDouble()), clusterSteps.Select(l => l.GetProperty("loss").GetDouble()));
        Assert.Equal(referenceSteps.Select(l => l.GetProperty("grad_norm").GetDouble()), clusterSteps.Select(l => l.GetProperty("grad_norm").GetDouble()));
        return (outputDir, referenceOutput, referenceSteps);
    }
}
