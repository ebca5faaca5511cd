using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Trainer;

namespace ShareLoRA.Benchmarks;

/// <summary>
/// Training throughput (tokens/s) of one job in one process (<see cref="LocalPipelineTrainer"/>, P = 1) against the same
/// job on a local cluster of 2 and 3 worker processes (scripts/local-cluster.sh: seed + workers on 127.0.0.1, TCP data
/// plane), on a small random Llama with stories260K's tokenizer. Prints mean tokens/s over the steps after the first,
/// and the cluster runs' mean bubble fraction and per-step activation and adapter-sync bytes.
/// </summary>
public static class PipelineBenchmark
{
    /// <summary>hidden 256, 6 layers, 8 heads / 4 kv heads, ffn 688, vocab 512 (stories260K's tokenizer), tied.</summary>
    public static LlamaConfig Small => new()
    {
        HiddenSize = 256, IntermediateSize = 688, NumHiddenLayers = 6, NumAttentionHeads = 8, NumKeyValueHeads = 4, HeadDim = 32,
        VocabSize = 512, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = [2],
    };

    /// <param name="args">"--shared DIR" (default $SHARELORA_SHARED or ../shared), "--steps N" (default 6), "--dll PATH"
    /// (a built sharelora.dll; default: scripts/sharelora's Release build).</param>
    public static void Run(string[] args)
    {
        string? Arg(string name) => Array.IndexOf(args, name) is var i && i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var repo = FindRepo();
        var shared = Arg("--shared") ?? Environment.GetEnvironmentVariable("SHARELORA_SHARED") ?? Path.Combine(Path.GetDirectoryName(repo)!, "shared");
        int steps = int.Parse(Arg("--steps") ?? "6", CultureInfo.InvariantCulture);
        var dll = Arg("--dll");
        var tokenizerDir = Path.Combine(shared, "models", "stories260K-hf");
        var dataFile = Path.Combine(shared, "data", "alpaca-libre", "alpaca_libre_tasks_v3.jsonl");
        if (!File.Exists(Path.Combine(tokenizerDir, "tokenizer.json")) || !File.Exists(dataFile))
            throw new FileNotFoundException($"pipeline benchmark needs {tokenizerDir}/tokenizer.json and {dataFile} (give --shared DIR)");

        var work = Directory.CreateTempSubdirectory("sharelora-bench-").FullName;
        try
        {
            var model = Path.Combine(work, "model");
            using (var m = LlamaModel.CreateRandom(Small, seed: 3)) m.Save(model);
            foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
                if (File.Exists(Path.Combine(tokenizerDir, f))) File.Copy(Path.Combine(tokenizerDir, f), Path.Combine(model, f));
            var job = Path.Combine(work, "job.json");
            File.WriteAllText(job, $$"""
                {
                  "name": "bench", "model": "{{model}}",
                  "data": { "train": "{{dataFile}}", "source_max_len": 64, "target_max_len": 64 },
                  "adapter": { "method": "share-a", "rank": 8, "alpha": 16, "dropout": 0.05 },
                  "optim": { "lr": 1e-3, "max_grad_norm": 1.0 },
                  "batch": { "micro_batch_size": 4, "micro_batches": 6 },
                  "steps": {{steps}}, "seed": 1, "output": "{{Path.Combine(work, "out")}}",
                  "pipeline": { "stages": 1, "schedule": "1f1b" }
                }
                """);
            var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
            Console.WriteLine($"pipeline benchmark: hidden {Small.HiddenSize}, {Small.NumHiddenLayers} layers, share-a r=8, 6 x 4 sequences/step, " +
                              $"{steps} steps; {Environment.ProcessorCount} logical CPUs, load average {load}");

            var single = Path.Combine(work, "p1");
            LocalPipelineTrainer.Run(JobConfig.Load(job, [$"output={single}"]));
            Report("1 process (LocalPipelineTrainer)", single);

            foreach (var p in new[] { 2, 3 })
            {
                var output = Path.Combine(work, $"p{p}");
                var start = new ProcessStartInfo(Path.Combine(repo, "scripts", "local-cluster.sh")) { UseShellExecute = false, RedirectStandardOutput = true };
                foreach (var a in new[] { "--workers", $"{p}", "--job", job, "--set", $"pipeline.stages={p}", "--set", $"output={output}", "--logs", Path.Combine(work, $"logs{p}") })
                    start.ArgumentList.Add(a);
                if (dll is not null) start.Environment["SHARELORA_DLL"] = dll;
                start.Environment["CI"] = "true";
                using var process = Process.Start(start)!;
                process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0) { Console.WriteLine($"{p} workers: local-cluster.sh exited {process.ExitCode}"); continue; }
                Report($"{p} worker processes", output);
            }
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    private static void Report(string label, string output)
    {
        var lines = File.ReadAllLines(Path.Combine(output, MetricsWriter.FileName)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var timed = lines.Skip(1).ToList(); // the first step includes warm-up
        double Mean(string field) => timed.Count == 0 || !timed[0].TryGetProperty(field, out _) ? double.NaN : timed.Average(e => e.GetProperty(field).GetDouble());
        var inv = CultureInfo.InvariantCulture;
        var extra = double.IsNaN(Mean("bubble_fraction")) ? "" :
            string.Format(inv, ", bubble {0:0.00}, activations {1:0} B/step, adapter sync {2:0} B/step", Mean("bubble_fraction"), Mean("activation_bytes"), Mean("adapter_sync_bytes"));
        Console.WriteLine(string.Format(inv, "{0,-34} {1,8:0} tokens/s (mean of {2} steps after the first){3}", label, Mean("tokens_per_s"), timed.Count, extra));
    }

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ShareLoRA.Actors.sln"))) return dir.FullName;
        throw new InvalidOperationException("ShareLoRA.Actors.sln not found above " + AppContext.BaseDirectory);
    }
}
