using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Roberta;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>`sharelora glue` and `sharelora e2e train|generate` end to end on tiny random models with the real BPE files.</summary>
[Collection("Console")]
public sealed class SmallSystemsCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "sharelora-smallsys-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private string ModelDir(string name, string tokenizer, Action<string> save)
    {
        var dir = Path.Combine(_root, name);
        save(dir);
        var tok = SharedAssets.RequireDirectory("tokenizers/" + tokenizer);
        foreach (var f in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(tok, f), Path.Combine(dir, f));
        return dir;
    }

    [SkippableFact]
    public void GlueTrainsEvaluatesAndSavesTheAdapter()
    {
        var model = ModelDir("roberta", "roberta-base", d =>
        {
            using var m = RobertaModel.CreateRandom(new RobertaConfig(50265, 16, 2, 2, 32, MaxPositions: 40), 3);
            m.Save(d);
        });
        var data = Path.Combine(_root, "SST-2");
        Directory.CreateDirectory(data);
        var rows = "sentence\tlabel\n" + string.Concat(Enumerable.Range(0, 12).Select(i => (i % 2 == 0 ? "a good film" : "a dull film") + $" {i}\t{(i % 2 == 0 ? 1 : 0)}\n"));
        File.WriteAllText(Path.Combine(data, "train.tsv"), rows);
        File.WriteAllText(Path.Combine(data, "dev.tsv"), rows);
        var outDir = Path.Combine(_root, "glue-out");
        var (code, stdout, stderr) = CliRun.Run("glue", "--task", "sst2", "--model", model, "--data", _root, "--method", "share-a",
            "--steps", "3", "--batch-size", "4", "--out", outDir, "--limit", "8");
        Assert.True(code == 0, stderr);
        Assert.Contains("final dev accuracy=", stdout);
        Assert.True(File.Exists(Path.Combine(outDir, "metrics.jsonl")));
        foreach (var f in new[] { "adapter.safetensors", "classifier.safetensors", "adapter_config.json", "adapter_model.safetensors" })
            Assert.True(File.Exists(Path.Combine(outDir, "adapter", f)), f);

        var (bad, _, err) = CliRun.Run("glue", "--task", "stsb", "--model", model, "--data", _root, "--out", outDir);
        Assert.Equal(2, bad);
        Assert.StartsWith("error: --data:", err);
    }

    /// <summary>A job file with "task": {"kind": "glue"} trains a RoBERTa model through `sharelora train` (the local
    /// pipeline, 2 stages here), evaluates the dev TSV's loss and writes the GLUE adapter with its classifier head.</summary>
    [SkippableFact]
    public void AGlueJobFileTrainsThroughTheTrainCommand()
    {
        var model = ModelDir("roberta-job", "roberta-base", d =>
        {
            using var m = RobertaModel.CreateRandom(new RobertaConfig(50265, 16, 2, 2, 32, MaxPositions: 40), 3);
            m.Save(d);
        });
        var rows = "sentence\tlabel\n" + string.Concat(Enumerable.Range(0, 12).Select(i => (i % 2 == 0 ? "a good film" : "a dull film") + $" {i}\t{(i % 2 == 0 ? 1 : 0)}\n"));
        File.WriteAllText(Path.Combine(_root, "train.tsv"), rows);
        File.WriteAllText(Path.Combine(_root, "dev.tsv"), rows);
        var outDir = Path.Combine(_root, "glue-job-out");
        var job = Path.Combine(_root, "glue-job.json");
        File.WriteAllText(job, $$"""
            {
              "model": "{{model}}",
              "task": { "kind": "glue", "name": "sst2" },
              "data": { "train": "train.tsv", "eval": "dev.tsv", "eval_every": 2, "source_max_len": 32 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 8, "targets": ["q", "v"] },
              "batch": { "micro_batch_size": 2, "micro_batches": 2 },
              "steps": 3,
              "output": "{{outDir}}",
              "pipeline": { "stages": 2 }
            }
            """);
        var (code, stdout, stderr) = CliRun.Run("train", "--job", job, "--quiet");
        Assert.True(code == 0, stderr);
        var metrics = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl"));
        Assert.Equal(3, metrics.Count(l => l.Contains("\"loss\"")));
        Assert.Equal(3, metrics.Count(l => l.Contains("\"eval_loss\""))); // before the first step, step 2, step 3
        // SST-2's dev accuracy beside every eval loss, as `sharelora glue` names it, and in the final summary line.
        Assert.Equal(3, metrics.Count(l => l.Contains("\"dev_accuracy\":")));
        Assert.Matches(@"eval loss \d\.\d{4} -> \d\.\d{4}, accuracy \d\.\d{4}", stdout);
        var (summaryCode, summary, _) = CliRun.Run("summary", "--run", outDir);
        Assert.Equal(0, summaryCode);
        Assert.Matches(@"eval metrics\s.*accuracy \d\.\d{4} \(step 3\)", summary);
        foreach (var f in new[] { "adapter.safetensors", "classifier.safetensors", "adapter_config.json", "adapter_model.safetensors" })
            Assert.True(File.Exists(Path.Combine(outDir, "adapter", f)), f);
    }

    /// <summary>`sharelora resume --run` continues a GLUE job (2 stages, head with its AdamW state in the checkpoint)
    /// that `train --stop-after 2` cut short, and ends with the uninterrupted `train`'s losses, dev accuracy and adapter
    /// folder (classifier.safetensors included) byte for byte.</summary>
    [SkippableFact]
    public void AGlueJobCutShortResumesToTheUninterruptedTrainsAdapterBytes()
    {
        var model = ModelDir("roberta-resume", "roberta-base", d =>
        {
            using var m = RobertaModel.CreateRandom(new RobertaConfig(50265, 16, 2, 2, 32, MaxPositions: 40), 3);
            m.Save(d);
        });
        var rows = "sentence\tlabel\n" + string.Concat(Enumerable.Range(0, 12).Select(i => (i % 2 == 0 ? "a good film" : "a dull film") + $" {i}\t{(i % 2 == 0 ? 1 : 0)}\n"));
        File.WriteAllText(Path.Combine(_root, "train.tsv"), rows);
        File.WriteAllText(Path.Combine(_root, "dev.tsv"), rows);
        var job = Path.Combine(_root, "glue-resume-job.json");
        File.WriteAllText(job, $$"""
            {
              "model": "{{model}}",
              "task": { "kind": "glue", "name": "sst2" },
              "data": { "train": "train.tsv", "eval": "dev.tsv", "eval_every": 2, "source_max_len": 32 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["q", "v"] },
              "optim": { "lr": 1e-2, "schedule": "linear", "warmup_steps": 1 },
              "batch": { "micro_batch_size": 2, "micro_batches": 2 },
              "steps": 4,
              "output": "unused",
              "pipeline": { "stages": 2 },
              "checkpoint": { "every": 2 }
            }
            """);
        var reference = Path.Combine(_root, "glue-reference");
        var cut = Path.Combine(_root, "glue-cut");
        var (code, _, stderr) = CliRun.Run("train", "--job", job, "--set", $"output={reference}", "--threads", "1", "--quiet");
        Assert.True(code == 0, stderr);
        (code, _, stderr) = CliRun.Run("train", "--job", job, "--set", $"output={cut}", "--threads", "1", "--quiet", "--stop-after", "2");
        Assert.True(code == 0, stderr);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(cut, "metrics.jsonl")).Count(l => l.Contains("\"loss\""))); // cut after step 2

        (code, var stdout, stderr) = CliRun.Run("resume", "--run", cut, "--threads", "1", "--quiet");
        Assert.True(code == 0, stderr);
        Assert.Contains("to step 4", stdout);

        static string[] StepLines(string run) => File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Where(l => !l.Contains("\"event\"")).Select(l => System.Text.RegularExpressions.Regex.Replace(l, @",""(wall_s|tokens_per_s)"":[^,}]*", "")).ToArray();
        Assert.Equal(StepLines(reference), StepLines(cut));
        Assert.Contains("\"dev_accuracy\":", string.Join("\n", StepLines(cut)));
        Assert.Contains("\"event\":\"resume\"", File.ReadAllText(Path.Combine(cut, "metrics.jsonl")));
        var files = Directory.GetFiles(Path.Combine(reference, "adapter")).Select(Path.GetFileName).Order().ToList();
        Assert.Contains("classifier.safetensors", files);
        Assert.Equal(files, Directory.GetFiles(Path.Combine(cut, "adapter")).Select(Path.GetFileName).Order());
        foreach (var f in files)
            Assert.True(File.ReadAllBytes(Path.Combine(reference, "adapter", f!)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(cut, "adapter", f!))), $"adapter/{f} differs");
    }

    /// <summary>A job file with "task": {"kind": "e2e"} trains GPT-2 through `sharelora train` (2 pipeline stages), and
    /// `e2e generate` decodes with the run's adapter folder: one output line per instance.</summary>
    [SkippableFact]
    public void AnE2eJobFileTrainsThroughTheTrainCommandAndItsAdapterGenerates()
    {
        var model = ModelDir("gpt2-job", "gpt2", d =>
        {
            using var m = Gpt2Model.CreateRandom(new Gpt2Config(50257, 64, 16, 2, 2, 32), 4);
            m.Save(d);
        });
        File.WriteAllText(Path.Combine(_root, "e2e-train.csv"), "mr,ref\n" +
            "\"name[Cotto], food[Italian]\",Cotto serves Italian food.\n\"name[Cotto], food[Italian]\",Italian food at Cotto.\n" +
            "\"name[Alimentum], area[riverside]\",Alimentum is by the river.\n\"name[Aromi], eatType[pub]\",Aromi is a pub.\n");
        var outDir = Path.Combine(_root, "e2e-job-out");
        var job = Path.Combine(_root, "e2e-job.json");
        File.WriteAllText(job, $$"""
            {
              "model": "{{model}}",
              "task": { "kind": "e2e", "label_smoothing": 0.1 },
              "data": { "train": "e2e-train.csv", "eval": "e2e-train.csv", "eval_every": 2, "source_max_len": 32, "target_max_len": 32 },
              "adapter": { "method": "lora", "rank": 4, "alpha": 32, "targets": ["q", "v"] },
              "optim": { "lr": 1e-2, "weight_decay": 0.01, "schedule": "linear", "warmup_steps": 1 },
              "batch": { "micro_batch_size": 2, "micro_batches": 1 },
              "steps": 3,
              "output": "{{outDir}}",
              "pipeline": { "stages": 2 }
            }
            """);
        var (code, _, stderr) = CliRun.Run("train", "--job", job, "--quiet");
        Assert.True(code == 0, stderr);
        var metrics = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl"));
        Assert.Equal(3, metrics.Count(l => l.Contains("\"loss\"")));
        Assert.Equal(3, metrics.Count(l => l.Contains("\"eval_loss\""))); // before the first step, step 2, step 3
        Assert.Contains("data: e2e, train 4 examples", File.ReadAllText(Path.Combine(outDir, "train.log")));

        var hyp = Path.Combine(_root, "job-hyps.txt");
        (code, _, stderr) = CliRun.Run("e2e", "generate", "--model", model, "--adapter", Path.Combine(outDir, "adapter"),
            "--data", Path.Combine(_root, "e2e-train.csv"), "--out", hyp, "--beams", "2", "--max-new-tokens", "4");
        Assert.True(code == 0, stderr);
        Assert.Equal(3, File.ReadAllLines(hyp).Length); // three distinct MRs
    }

    [SkippableFact]
    public void E2eTrainThenGenerateThenScore()
    {
        var model = ModelDir("gpt2", "gpt2", d =>
        {
            using var m = Gpt2Model.CreateRandom(new Gpt2Config(50257, 64, 16, 2, 2, 32), 4);
            m.Save(d);
        });
        var csv = Path.Combine(_root, "train.csv");
        File.WriteAllText(csv, "mr,ref\n\"name[Cotto], food[Italian]\",Cotto serves Italian food.\n\"name[Alimentum], area[riverside]\",Alimentum is by the river.\n");
        var outDir = Path.Combine(_root, "e2e-out");
        var (code, stdout, stderr) = CliRun.Run("e2e", "train", "--model", model, "--train", csv, "--valid", csv, "--method", "share-b",
            "--steps", "3", "--warmup-steps", "1", "--batch-size", "2", "--out", outDir);
        Assert.True(code == 0, stderr);
        Assert.Contains("adapter:", stdout);
        var hyp = Path.Combine(_root, "hyps.txt");
        (code, stdout, stderr) = CliRun.Run("e2e", "generate", "--model", model, "--adapter", outDir, "--data", csv, "--out", hyp,
            "--beams", "2", "--max-new-tokens", "5");
        Assert.True(code == 0, stderr);
        Assert.Equal(2, File.ReadAllLines(hyp).Length);
        (code, stdout, stderr) = CliRun.Run("e2e-metrics", "--hyp", hyp, "--refs", csv);
        Assert.True(code == 0, stderr);
        Assert.Contains("BLEU:", stdout);
    }

    [SkippableFact]
    public void RealGlueAndE2eFilesRunThroughTheCommands()
    {
        var glue = SharedAssets.RequireDirectory("data/glue");
        var devset = Path.Combine(SharedAssets.RequireDirectory("data/e2e"), "devset.csv");
        var roberta = ModelDir("roberta", "roberta-base", d =>
        {
            using var m = RobertaModel.CreateRandom(new RobertaConfig(50265, 16, 1, 2, 32, MaxPositions: 130), 3);
            m.Save(d);
        });
        var (code, stdout, stderr) = CliRun.Run("glue", "--task", "mrpc", "--model", roberta, "--data", glue,
            "--steps", "2", "--batch-size", "4", "--max-seq-len", "128", "--limit", "8", "--out", Path.Combine(_root, "mrpc"));
        Assert.True(code == 0, stderr);
        Assert.Contains("f1=", stdout);

        var gpt2 = ModelDir("gpt2", "gpt2", d =>
        {
            using var m = Gpt2Model.CreateRandom(new Gpt2Config(50257, 128, 16, 1, 2, 32), 4);
            m.Save(d);
        });
        var hyp = Path.Combine(_root, "dev-hyps.txt");
        (code, _, stderr) = CliRun.Run("e2e", "generate", "--model", gpt2, "--data", devset, "--out", hyp, "--beams", "2",
            "--max-new-tokens", "4", "--limit", "3");
        Assert.True(code == 0, stderr);
        Assert.Equal(3, File.ReadAllLines(hyp).Length);
    }
}
