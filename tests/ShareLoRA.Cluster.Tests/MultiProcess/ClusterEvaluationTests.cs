using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.TestSupport;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// `sharelora eval ... --seed` on a seed and two workers (separate processes, mutual TLS): perplexity on Alpaca lines,
/// MMLU on a hand-made two-subject set (both with an adapter the stages slice) and GSM8K on two problems, each through
/// two forward-only stages, print exactly what the single-process evaluation prints — the same JSON, the same
/// per-question predictions, the same progress lines.
/// </summary>
public sealed class ClusterEvaluationTests(ClusterRunFixture fixture) : IClassFixture<ClusterRunFixture>
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    [SkippableFact]
    public async Task EvaluationThroughTwoStagesPrintsTheSingleProcessResults()
    {
        var model = SharedAssets.Stories260K;
        var gsm8k = SharedAssets.RequireDirectory("data/gsm8k");
        var cluster = await fixture.ClusterAsync(workers: 2);
        string[] remote = ["--seed", cluster.Seed.ToString(), "--stages", "2", .. cluster.TlsArguments("eval-client")];

        var adapter = WriteAdapter(model);
        var alpaca = Path.Combine(fixture.Folder, "eval-alpaca.jsonl");
        File.WriteAllLines(alpaca, File.ReadLines(fixture.DataFile).Take(5));
        var mmlu = WriteMmlu();

        (string Stdout, string Stderr, string? Predictions) Run(string name, string[] args, bool predictions, string[] extra)
        {
            var file = predictions ? Path.Combine(fixture.Folder, name + ".jsonl") : null;
            using var cli = NodeProcess.Start([.. args, .. extra, .. file is null ? Array.Empty<string>() : ["--predictions", file]]);
            int exit = cli.WaitForExit(RunTimeout);
            Assert.True(exit == 0, $"{name}: sharelora {string.Join(' ', args)} exited {exit}:\n{cli.Output}\n{cluster.Outputs()}");
            var lines = cli.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return (string.Join('\n', lines.Where(l => l.StartsWith('{'))), string.Join('\n', lines.Where(l => !l.StartsWith('{'))),
                file is null ? null : File.ReadAllText(file));
        }

        void AssertSame(string name, string[] args, bool predictions)
        {
            var local = Run(name + "-local", args, predictions, []);
            var through = Run(name + "-cluster", args, predictions, remote);
            Assert.StartsWith("{", local.Stdout);
            Assert.Equal(local.Stdout, through.Stdout);          // the JSON report, number for number
            Assert.Equal(local.Predictions, through.Predictions); // every question's logits / completion
            Assert.Matches(@"^evaluating through the cluster at 127\.0\.0\.1:\d+: stage 0 layers 0-2 on akka\.ssl\.tcp://sharelora@127\.0\.0\.1:\d+, " +
                @"stage 1 layers 3-4 on akka\.ssl\.tcp://sharelora@127\.0\.0\.1:\d+$", through.Stderr.Split('\n')[0]);
            Assert.Equal(local.Stderr, string.Join('\n', through.Stderr.Split('\n').Skip(1))); // same progress lines
        }

        AssertSame("perplexity", ["eval", "perplexity", "--model", model, "--adapter", adapter, "--data", alpaca, "--format", "alpaca",
            "--batch-size", "2", "--json"], predictions: false);
        AssertSame("mmlu", ["eval", "mmlu", "--model", model, "--adapter", adapter, "--data", mmlu, "--shots", "1", "--batch-size", "2",
            "--json"], predictions: true);
        AssertSame("gsm8k", ["eval", "gsm8k", "--model", model, "--data", Path.Combine(gsm8k, "test.jsonl"), "--shots", "1", "--limit", "2",
            "--max-new-tokens", "6", "--json"], predictions: true);

        // Every session was closed by its client, which stops its stages.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (CountOf(cluster.Outputs(), "closed by the client") < 3 && DateTime.UtcNow < deadline) await Task.Delay(200);
        Assert.True(CountOf(cluster.Outputs(), "closed by the client") == 3,
            string.Join('\n', cluster.Outputs().Split('\n').Where(l => l.Contains("eval session") || l.Contains("eval stage"))));
    }

    [SkippableFact]
    public async Task AModelMissingOnTheWorkersFailsWithTheWorkersMessage()
    {
        var model = SharedAssets.Stories260K;
        var cluster = await fixture.ClusterAsync(workers: 2);
        // This process reads only config.json and the tokenizer; the workers need the weights, which this copy lacks.
        var partial = Path.Combine(fixture.Folder, "eval-model-without-weights");
        Directory.CreateDirectory(partial);
        foreach (var f in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
            if (File.Exists(Path.Combine(model, f))) File.Copy(Path.Combine(model, f), Path.Combine(partial, f), overwrite: true);
        using var cli = NodeProcess.Start(["eval", "perplexity", "--model", partial, "--data", fixture.DataFile, "--seed", cluster.Seed.ToString(),
            .. cluster.TlsArguments("eval-client")]);
        Assert.Equal(2, cli.WaitForExit(RunTimeout));
        Assert.Matches(@"error: the cluster at 127\.0\.0\.1:\d+ could not start the evaluation: eval stage \d on worker akka\.ssl\.tcp://sharelora@127\.0\.0\.1:\d+: load failed: ",
            cli.Output);
        Assert.Contains(partial, cli.Output);
    }

    [SkippableFact]
    public async Task AClientThatDisappearsHasItsSessionAndStagesStopped()
    {
        var model = SharedAssets.Stories260K;
        var cluster = await fixture.ClusterAsync(workers: 2);
        int sessionsBefore = CountOf(cluster.Outputs(), "stages ready for client");
        // Long enough to be killed mid-run: thousands of one-sequence forward passes, one round trip each.
        var many = Path.Combine(fixture.Folder, "eval-many.jsonl");
        File.WriteAllLines(many, Enumerable.Repeat(File.ReadAllLines(fixture.DataFile), 150).SelectMany(l => l));
        using var cli = NodeProcess.Start(["eval", "perplexity", "--model", model, "--data", many, "--batch-size", "1",
            "--seed", cluster.Seed.ToString(), "--stages", "2", .. cluster.TlsArguments("eval-client")]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (CountOf(cluster.Outputs(), "stages ready for client") == sessionsBefore && !cli.HasExited && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        Assert.False(cli.HasExited, "the evaluation ended before it could be interrupted:\n" + cli.Output);
        var session = System.Text.RegularExpressions.Regex.Matches(cluster.Outputs(), @"eval session (\S+): 2 stages ready for client")[^1].Groups[1].Value;
        await Task.Delay(500);
        Assert.False(cli.HasExited, "the evaluation ended before it could be interrupted:\n" + cli.Output);
        cli.Kill(); // no CloseSession: the process is simply gone

        // The seed notices through death watch (remote failure detection, seconds), stops the session and its stages.
        string[] expected = [$"eval session {session}: the client", $"eval stage 0 of session {session} stopped", $"eval stage 1 of session {session} stopped"];
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(45);
        while (expected.Any(e => !cluster.Outputs().Contains(e)) && DateTime.UtcNow < deadline) await Task.Delay(250);
        foreach (var e in expected) Assert.True(cluster.Outputs().Contains(e), $"missing \"{e}\" in the cluster's output:\n{cluster.Outputs()}");
        Assert.DoesNotContain($"eval session {session}: closed by the client", cluster.Outputs());
    }

    private static int CountOf(string text, string part)
    {
        int n = 0;
        for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    // A share-a adapter with random B (a zero B would leave the model unchanged), saved as a training run writes it.
    private string WriteAdapter(string model)
    {
        var dir = Path.Combine(fixture.Folder, "eval-adapter");
        var config = LlamaConfig.Load(Path.Combine(model, "config.json"));
        var layout = AdapterLayout.ForMethod("share-a", config.NumHiddenLayers, AdapterLayout.LlamaDims(config), TargetModules.All, 4, 8, 0.1);
        using var bank = AdapterBank.Create(layout, seed: 3);
        using (no_grad())
        {
            using var g = new Generator(11, CPU);
            foreach (var p in bank.Parameters.Where(p => p.Matrix == 'B'))
            {
                using var r = randn(p.Value.shape, p.Value.dtype, CPU, false, g);
                p.Value.copy_(r.mul_(0.5));
            }
        }
        AdapterDirectory.Save(bank, dir, model);
        return dir;
    }

    // Two subjects, three test questions each and one dev example, in the CSV layout of shared/data/mmlu.
    private string WriteMmlu()
    {
        var dir = Path.Combine(fixture.Folder, "eval-mmlu");
        Directory.CreateDirectory(Path.Combine(dir, "dev"));
        Directory.CreateDirectory(Path.Combine(dir, "test"));
        const string header = "question,choice0,choice1,choice2,choice3,answer";
        foreach (var subject in new[] { "pets", "weather" })
        {
            File.WriteAllLines(Path.Combine(dir, "dev", subject + "_dev.csv"), [header, $"Which one is about {subject}?,a cat,the sun,a tree,a ball,0"]);
            File.WriteAllLines(Path.Combine(dir, "test", subject + "_test.csv"),
            [
                header,
                $"What did the {subject} girl see?,a dog,a bird,a fish,the moon,1",
                $"\"Where did Tom go, in the {subject} story?\",home,school,the park,the sea,2",
                "Who was happy?,Lily,Ben,the cat,everyone,3",
            ]);
        }
        return dir;
    }
}
