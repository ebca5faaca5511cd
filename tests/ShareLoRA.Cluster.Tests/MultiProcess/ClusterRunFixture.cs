using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// What the multi-process tests share: a temp folder with a small Alpaca file, job files over stories260K (5 layers),
/// and one local cluster of a seed and three workers that is started on first use and reused across jobs. The cluster
/// runs mutual TLS with certificates made through the CLI in the temp folder, so the equivalence runs cover TLS too.
/// </summary>
public sealed class ClusterRunFixture : IDisposable
{
    private LocalCluster? _cluster;

    public ClusterRunFixture()
    {
        Folder = Directory.CreateTempSubdirectory("sharelora-mp-").FullName;
        DataFile = WriteData(Folder);
        EvalFile = WriteEvalData(Folder);
    }

    public string Folder { get; }
    public string DataFile { get; }

    /// <summary>5 held-out examples (3 eval batches of micro_batch_size 2, the last with one row).</summary>
    public string EvalFile { get; }

    internal async Task<LocalCluster> ClusterAsync(int workers = 3)
    {
        if (_cluster is null)
        {
            var certificates = new LocalClusterCertificates(Path.Combine(Folder, "certs"));
            _cluster = new LocalCluster(Path.Combine(Folder, "logs"), certificates);
            for (int i = 0; i < workers; i++) _cluster.AddWorker();
        }
        await _cluster.WaitForWorkersAsync(workers, TimeSpan.FromSeconds(90));
        return _cluster;
    }

    /// <summary>Writes a job file (small batches, few steps) and returns its path.</summary>
    public static string WriteJob(string folder, string name, string model, string data, string method, int stages, string schedule, int steps = 3,
        string targets = "[\"q\", \"k\", \"v\", \"o\", \"gate\", \"up\", \"down\"]", int checkpointEvery = 250,
        string? evalData = null, int evalEvery = 0)
    {
        var path = Path.Combine(folder, name + ".json");
        var eval = evalData is null ? "" : $", \"eval\": \"{evalData}\", \"eval_every\": {evalEvery}";
        File.WriteAllText(path, $$"""
            {
              "name": "{{name}}",
              "model": "{{model}}",
              "data": { "train": "{{data}}", "source_max_len": 32, "target_max_len": 32{{eval}} },
              "adapter": { "method": "{{method}}", "rank": 4, "alpha": 8, "dropout": 0.1, "targets": {{targets}} },
              "optim": { "lr": 1e-2, "max_grad_norm": 0.5, "weight_decay": 0.01 },
              "batch": { "micro_batch_size": 2, "micro_batches": 3 },
              "steps": {{steps}},
              "seed": 5,
              "output": "{{Path.Combine(folder, name)}}",
              "pipeline": { "stages": {{stages}}, "schedule": "{{schedule}}" },
              "checkpoint": { "every": {{checkpointEvery}}, "keep": 3 }
            }
            """);
        return path;
    }

    /// <summary>Every step line of a metrics.jsonl as a JSON element.</summary>
    public static List<JsonElement> StepLines(string outputDirectory) =>
        File.ReadAllLines(Path.Combine(outputDirectory, MetricsLog.FileName))
            .Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .Where(e => e.TryGetProperty("loss", out _))
            .ToList();

    public static AdapterBank LoadAdapter(string outputDirectory) =>
        NativeAdapterFormat.Load(Path.Combine(outputDirectory, "adapter", NativeAdapterFormat.FileName));

    public static JobConfig Load(string jobPath, params string[] overrides) => JobConfig.Load(jobPath, overrides);

    // 24 short instruction examples, deterministic, in Alpaca JSONL.
    private static string WriteData(string folder)
    {
        var path = Path.Combine(folder, "train.jsonl");
        var words = new[] { "cat", "dog", "sun", "tree", "ball", "fish", "bird", "moon" };
        var lines = Enumerable.Range(0, 24).Select(i => JsonSerializer.Serialize(new
        {
            instruction = $"Tell a short story about a {words[i % words.Length]}.",
            input = i % 3 == 0 ? $"The {words[(i + 3) % words.Length]} is happy." : "",
            output = $"Once upon a time a {words[i % words.Length]} met a {words[(i + 5) % words.Length]} and they played all day.",
        }));
        File.WriteAllLines(path, lines);
        return path;
    }

    // 5 examples unlike the training ones, in Alpaca JSONL.
    private static string WriteEvalData(string folder)
    {
        var path = Path.Combine(folder, "eval.jsonl");
        var words = new[] { "frog", "boat", "star", "cake", "rain" };
        var lines = Enumerable.Range(0, words.Length).Select(i => JsonSerializer.Serialize(new
        {
            instruction = $"Write one line about a {words[i]}.",
            input = "",
            output = $"The {words[i]} was {(i % 2 == 0 ? "small and red" : "big")}.",
        }));
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>The evaluations of a metrics.jsonl in file order: {"step": 0, "eval_loss"} and the step lines holding eval_loss.</summary>
    public static List<(int Step, double Loss)> EvalLosses(string outputDirectory) =>
        File.ReadAllLines(Path.Combine(outputDirectory, MetricsLog.FileName))
            .Where(l => l.Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .Where(e => !e.TryGetProperty("event", out _) && e.TryGetProperty("eval_loss", out _))
            .Select(e => (e.GetProperty("step").GetInt32(), e.GetProperty("eval_loss").GetDouble()))
            .ToList();

    public void Dispose()
    {
        _cluster?.Dispose();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
