using System.Diagnostics;
using System.Globalization;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Trainer;

namespace ShareLoRA.Benchmarks;

/// <summary>
/// Checkpoint save time (export + write + sha256 + fsync + rename + prune) and resume time (find + verify + read +
/// restore into built stages; building the stages is not counted) of the local trainer, on a tiny random model with
/// synthetic data and on stories260K with the tiny-share-a job (skipped with a line when the shared folder is absent).
/// Median of several repeats, each in a fresh run folder.
/// </summary>
public static class CheckpointBenchmark
{
    public const string Mode = "checkpoint";
    private const int Repeats = 5;

    public static int Run(string[] args)
    {
        TorchSharp.torch.set_num_threads(1);
        var root = Path.Combine(Path.GetTempPath(), "sharelora-ckpt-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            Console.WriteLine($"{"job",-12} {"method",-8} {"P",2} {"bytes",9} {"save ms",8} {"resume ms",9}");
            var tiny = TinyJob(root);
            foreach (var method in new[] { "share-a", "lora" })
                foreach (var stages in new[] { 1, 2 })
                    Measure("tiny", root, JobWith(tiny.Job, method, stages), j => new LocalPipelineTrainer(j, tiny.Data, padId: 2));

            var shared = Environment.GetEnvironmentVariable("SHARELORA_SHARED") ?? Path.Combine(RepoRoot(), "..", "shared");
            var model = Path.Combine(shared, "models", "stories260K-hf");
            var data = Path.Combine(shared, "data", "alpaca-libre", "alpaca_libre_tasks_v3.jsonl");
            if (!Directory.Exists(model) || !File.Exists(data))
            {
                Console.WriteLine($"stories260K  skipped: {model} or {data} not found (set SHARELORA_SHARED)");
                return 0;
            }
            var job = JobConfig.Load(Path.Combine(RepoRoot(), "jobs", "tiny-share-a.json"),
                [$"model={model}", $"data.train={data}", "data.eval_every=0", "data.eval_fraction=0", $"output={root}/s"]);
            TrainingData prepared;
            using (var first = LocalPipelineTrainer.Create(job)) prepared = first.Data; // tokenise once
            foreach (var stages in new[] { 1, 2 })
                Measure("stories260K", root, JobWith(job, job.Adapter.Method, stages),
                    j => new LocalPipelineTrainer(j, prepared, padId: 0));
            return 0;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    private static JobConfig JobWith(JobConfig job, string method, int stages) =>
        job with { Adapter = job.Adapter with { Method = method }, Pipeline = job.Pipeline with { Stages = stages } };

    private static void Measure(string name, string root, JobConfig template, Func<JobConfig, LocalPipelineTrainer> create)
    {
        var saves = new List<double>();
        var resumes = new List<double>();
        long bytes = 0;
        for (int r = 0; r < Repeats; r++)
        {
            var job = template with { Output = Path.Combine(root, $"{name}-{template.Adapter.Method}-{template.Pipeline.Stages}-{r}") };
            using (var trainer = create(job))
            {
                trainer.TrainStep();
                var watch = Stopwatch.StartNew();
                var saved = trainer.SaveCheckpoint(new CheckpointStore(job.Output, 3, Serilog.Core.Logger.None), CheckpointMetrics.None);
                saves.Add(watch.Elapsed.TotalMilliseconds);
                bytes = saved.BytesWritten;
            }
            using (var trainer = create(job))
            {
                var watch = Stopwatch.StartNew();
                trainer.RestoreLatest();
                resumes.Add(watch.Elapsed.TotalMilliseconds);
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-12} {template.Adapter.Method,-8} {template.Pipeline.Stages,2} {bytes,9} {Median(saves),8:0.0} {Median(resumes),9:0.0}"));
    }

    private static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

    private static (JobConfig Job, TrainingData Data) TinyJob(string root)
    {
        var config = new LlamaConfig
        {
            HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 3, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 8,
            VocabSize = 64, MaxPositionEmbeddings = 256, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = true,
            BosTokenId = 1, EosTokenIds = [2],
        };
        var modelDir = Path.Combine(root, "tiny-model");
        using (var model = LlamaModel.CreateRandom(config, 7)) model.Save(modelDir);
        var jobPath = Path.Combine(root, "tiny.json");
        File.WriteAllText(jobPath, $$"""
            { "name": "tiny", "model": "{{modelDir}}", "data": { "train": "unused.jsonl" },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 8, "dropout": 0.1 },
              "batch": { "micro_batch_size": 3, "micro_batches": 3 }, "steps": 8, "output": "{{root}}/tiny" }
            """);
        var rng = new Random(1);
        var examples = Enumerable.Range(0, 40).Select(_ =>
        {
            int length = rng.Next(6, 15), prompt = rng.Next(1, length / 2 + 1);
            var ids = Enumerable.Range(0, length).Select(c => c == 0 ? 1 : rng.Next(3, 64)).ToArray();
            var labels = ids.Select((id, c) => c < prompt ? TokenizedExample.IgnoreIndex : id).ToArray();
            return new TokenizedExample(ids, labels);
        }).ToArray();
        var report = new DataReport("alpaca", examples.Length, 0, 0, 0, [], 0, 0, examples.Sum(e => (long)e.Length), examples.Sum(e => (long)e.TargetTokens));
        return (JobConfig.Load(jobPath), new TrainingData(examples, [], report));
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ShareLoRA.Actors.sln"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
