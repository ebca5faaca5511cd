using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Trainer;

namespace ShareLoRA.Benchmarks;

/// <summary>
/// Training throughput and memory of the four adapter methods on one job (default: jobs/tiny-share-a.json with the
/// shared stories260K model and alpaca-libre data). Each method runs in a child process so its peak working set is
/// its own; the first steps are warm-up and not timed.
/// </summary>
public static class TrainThroughputBenchmark
{
    public const string Mode = "train";
    public const string ChildMode = "train-one";
    private static readonly string[] Methods = ["lora", "share-a", "share-b", "share-ab"];

    public static int Run(string[] args)
    {
        var options = Options.Parse(args);
        Console.WriteLine($"job {options.Job}, {options.Steps} timed steps after {options.WarmUp} warm-up, {options.Stages} stage(s), {options.Threads} thread(s)");
        Console.WriteLine($"{"method",-9} {"trainable",10} {"tokens/s",9} {"s/step",7} {"final loss",10} {"peak WS MB",10}");
        foreach (var method in Methods)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(typeof(Program).Assembly.Location);
            start.ArgumentList.Add(ChildMode);
            foreach (var a in args) start.ArgumentList.Add(a);
            start.ArgumentList.Add("--method");
            start.ArgumentList.Add(method);
            using var child = Process.Start(start)!;
            var lastLine = "";
            while (child.StandardOutput.ReadLine() is { } line) lastLine = line;
            child.WaitForExit();
            if (child.ExitCode != 0) { Console.WriteLine($"{method,-9} failed (exit {child.ExitCode})"); continue; }
            var r = JsonDocument.Parse(lastLine).RootElement;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{method,-9} {r.GetProperty("trainable").GetInt64(),10} {r.GetProperty("tokens_per_s").GetDouble(),9:0} {r.GetProperty("s_per_step").GetDouble(),7:0.000} {r.GetProperty("loss").GetDouble(),10:0.0000} {r.GetProperty("peak_ws_mb").GetDouble(),10:0}"));
        }
        return 0;
    }

    /// <summary>Child process: one method, prints one JSON line with the figures.</summary>
    public static int RunOne(string[] args)
    {
        var options = Options.Parse(args);
        TorchSharp.torch.set_num_threads(options.Threads);
        var output = Path.Combine(Path.GetTempPath(), "sharelora-bench-" + Guid.NewGuid().ToString("N"));
        var overrides = new List<string>(options.Overrides)
        {
            $"adapter.method={options.Method}", $"steps={options.Steps + options.WarmUp}", $"pipeline.stages={options.Stages}",
            "data.eval_every=0", "data.eval_fraction=0", $"output={output}",
        };
        try
        {
            var job = JobConfig.Load(options.Job, overrides);
            using var trainer = LocalPipelineTrainer.Create(job);
            for (int i = 0; i < options.WarmUp; i++) trainer.TrainStep();
            long tokens = 0;
            double loss = 0;
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < options.Steps; i++)
            {
                var m = trainer.TrainStep();
                tokens += m.Tokens ?? 0;
                loss = m.Loss;
            }
            double seconds = watch.Elapsed.TotalSeconds;
            using var self = Process.GetCurrentProcess();
            self.Refresh();
            Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["method"] = options.Method,
                ["trainable"] = trainer.Layout.TrainableParameterCount,
                ["tokens_per_s"] = tokens / seconds,
                ["s_per_step"] = seconds / options.Steps,
                ["loss"] = loss,
                ["peak_ws_mb"] = self.PeakWorkingSet64 / 1048576.0,
            }));
            return 0;
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }

    private sealed record Options(string Job, int Steps, int WarmUp, int Stages, int Threads, string Method, IReadOnlyList<string> Overrides)
    {
        public static Options Parse(string[] args)
        {
            var root = FindRepoRoot();
            var shared = Environment.GetEnvironmentVariable("SHARELORA_SHARED") ?? Path.Combine(Path.GetDirectoryName(root)!, "shared");
            string job = Path.Combine(root, "jobs", "tiny-share-a.json");
            int steps = 20, warmUp = 3, stages = 1, threads = 1;
            string method = "share-a";
            var overrides = new List<string>
            {
                $"model={Path.Combine(shared, "models", "stories260K-hf")}",
                $"data.train={Path.Combine(shared, "data", "alpaca-libre", "alpaca_libre_tasks_v3.jsonl")}",
            };
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--job": job = Next(); break;
                    case "--steps": steps = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--warmup": warmUp = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--stages": stages = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--method": method = Next(); break;
                    case "--set": overrides.Add(Next()); break;
                    default: throw new ArgumentException($"unknown option {args[i]}");
                }
            }
            return new Options(job, steps, warmUp, stages, threads, method, overrides);
        }

        private static string FindRepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "ShareLoRA.Actors.sln"))) return dir.FullName;
            return Directory.GetCurrentDirectory();
        }
    }
}
