using System.Globalization;
using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Roberta;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.SmallSystems;
using Xunit;
using static TorchSharp.torch;

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

    /// <summary>
    /// A tiny random RobertaForSequenceClassification (4 layers, hidden 16; num_labels 1 for STS-B's regression, else 2)
    /// with the real roberta-base BPE, as an HF folder FOLDER/roberta-tiny-TASK made on first use; skips the test
    /// without the shared tokenizer.
    /// </summary>
    public static string WriteTinyRoberta(string folder, string task)
    {
        var bpe = SharedAssets.RequireDirectory("tokenizers/roberta-base");
        var model = Path.Combine(folder, $"roberta-tiny-{task}");
        if (Directory.Exists(model)) return model;
        var config = new RobertaConfig(VocabSize: 50265, HiddenSize: 16, NumLayers: 4, NumHeads: 2, IntermediateSize: 32,
            MaxPositions: 40, NumLabels: task == "stsb" ? 1 : 2);
        using (var roberta = RobertaModel.CreateRandom(config, seed: 13, initStd: 0.1)) roberta.Save(model);
        foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(model, file));
        return model;
    }

    /// <summary>12 rows in the GLUE script's layout: SST-2 "sentence&lt;TAB&gt;label", STS-B ten columns with the score last.</summary>
    public static string WriteGlueTsv(string folder, string task)
    {
        var path = Path.Combine(folder, $"glue-{task}-train.tsv");
        var sentences = new[]
        {
            "a gripping , funny film", "dull and far too long", "the cast is wonderful", "i hated every minute of it",
            "an honest , moving story", "flat characters and a lazy plot", "smart and beautifully shot", "a mess from start to end",
            "warm , generous and alive", "nothing works here", "one of the year 's best", "tedious beyond words",
        };
        var lines = new List<string>();
        if (task == "stsb")
        {
            lines.Add("index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore");
            for (int i = 0; i < sentences.Length; i++)
                lines.Add($"{i}\tmain-captions\tMSRvid\t2012test\t{i:0000}\tnone\tnone\t{sentences[i]}\t{sentences[(i + 1) % sentences.Length]}\t" +
                    (i * 0.4 % 5).ToString("0.000", CultureInfo.InvariantCulture));
        }
        else
        {
            lines.Add("sentence\tlabel");
            for (int i = 0; i < sentences.Length; i++) lines.Add($"{sentences[i]}\t{(i + 1) % 2}");
        }
        File.WriteAllText(path, string.Join("\n", lines) + "\n");
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

    /// <summary>The run's adapter has the reference's tensor names and every tensor is bitwise the reference's.</summary>
    public static void AssertAdapterBitwise(string referenceOutput, string outputDirectory)
    {
        using var actual = LoadAdapter(outputDirectory);
        using var expected = LoadAdapter(referenceOutput);
        Assert.Equal(expected.Parameters.Select(p => p.Name).Order(), actual.Parameters.Select(p => p.Name).Order());
        foreach (var e in expected.Parameters)
        {
            using var scope = NewDisposeScope();
            Assert.True(eq(actual.Find(e.Name)!.Value, e.Value).all().item<bool>(), $"adapter tensor {e.Name} is not bitwise equal to the single-process run's");
        }
    }

    /// <summary>The PEFT pair (adapter_model.safetensors, adapter_config.json) byte for byte the reference's.</summary>
    public static void AssertPeftFilesEqual(string referenceOutput, string outputDirectory)
    {
        foreach (var file in new[] { "adapter_model.safetensors", "adapter_config.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(referenceOutput, "adapter", file)), File.ReadAllBytes(Path.Combine(outputDirectory, "adapter", file)));
    }

    /// <summary>classifier.safetensors: the four head tensors, bitwise the reference's, and trained (not the base model's).</summary>
    public static void AssertHeadBitwiseAndTrained(string referenceOutput, string outputDirectory, string model)
    {
        using var actual = SafetensorsFile.Open(Path.Combine(outputDirectory, "adapter", RobertaAdapterExport.HeadFileName));
        using var expected = SafetensorsFile.Open(Path.Combine(referenceOutput, "adapter", RobertaAdapterExport.HeadFileName));
        using var baseWeights = SafetensorsFile.Open(Path.Combine(model, "model.safetensors"));
        var names = actual.Entries.Keys.Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["classifier.dense.bias", "classifier.dense.weight", "classifier.out_proj.bias", "classifier.out_proj.weight"], names);
        Assert.Equal(names, expected.Entries.Keys.Order(StringComparer.Ordinal));
        foreach (var n in names)
        {
            using var scope = NewDisposeScope();
            var head = actual.Read(n);
            Assert.True(eq(head, expected.Read(n)).all().item<bool>(), $"head tensor {n} is not bitwise equal to the single-process run's");
            Assert.False(eq(head, baseWeights.Read(n).to_type(head.dtype)).all().item<bool>(), $"head tensor {n} did not train");
        }
    }

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
