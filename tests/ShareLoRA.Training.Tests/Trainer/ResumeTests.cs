using System.Text.Json;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>
/// Stop/resume determinism of the reference trainer: a run stopped at a checkpoint and resumed gives the uninterrupted
/// run's per-step losses and final adapter bitwise on the same partition, and within 1e-5 after a re-partition.
/// Dropout is on (0.1) and 8 steps of 9 sequences over 40 examples cross an epoch boundary during step 5.
/// </summary>
public sealed class ResumeTests
{
    private static readonly string[] Common =
        ["steps=8", "checkpoint.every=2", "optim.schedule=linear", "optim.warmup_steps=2"];

    private sealed record Setup(TempFolder Folder, string Model, TrainingData Data) : IDisposable
    {
        public void Dispose() => Folder.Dispose();
    }

    private static Setup NewSetup()
    {
        var folder = new TempFolder();
        var config = TinyLlama.Config();
        return new Setup(folder, TrainerJobs.SaveModel(folder, config), TrainerJobs.Data(config.VocabSize));
    }

    private static JobConfig Job(Setup s, string method, int stages, string output, params string[] extra) =>
        TrainerJobs.Job(s.Folder, s.Model, method, stages, Path.Combine(s.Folder.Path, output), [.. Common, .. extra]);

    private static void TrainFully(Setup s, JobConfig job, int? stopAfter = null, ILogger? log = null)
    {
        using var trainer = new LocalPipelineTrainer(job, s.Data, padId: 2, log);
        trainer.Train(stopAfter: stopAfter);
    }

    private static long? Resume(Setup s, JobConfig job, ILogger? log = null)
    {
        using var trainer = new LocalPipelineTrainer(job, s.Data, padId: 2, log);
        var from = trainer.RestoreLatest();
        trainer.Train();
        return from;
    }

    /// <summary>step -> the raw JSON text of a field on step lines (so equality is bitwise on the written number).</summary>
    internal static SortedDictionary<long, string> Field(string output, string field)
    {
        var result = new SortedDictionary<long, string>();
        foreach (var line in File.ReadAllLines(Path.Combine(output, "metrics.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.TryGetProperty("event", out _) || !root.TryGetProperty(field, out var v)) continue;
            Assert.True(result.TryAdd(root.GetProperty("step").GetInt64(), v.GetRawText()), $"{output}: step {root.GetProperty("step")} twice");
        }
        return result;
    }

    private static void AssertBitwiseSameRun(string expected, string actual)
    {
        foreach (var field in new[] { "loss", "lr", "grad_norm", "eval_loss" })
            Assert.Equal(Field(expected, field), Field(actual, field));
        Assert.Equal(8, Field(actual, "loss").Count);
        foreach (var file in new[] { PeftAdapterFormat.WeightsFileName, NativeAdapterFormat.FileName })
            Assert.Equal(File.ReadAllBytes(Path.Combine(expected, "adapter", file)), File.ReadAllBytes(Path.Combine(actual, "adapter", file)));
    }

    [Theory]
    [InlineData("share-ab", 2, 4)]
    [InlineData("share-a", 1, 5)]
    [InlineData("lora", 3, 2)]
    public void AStoppedAndResumedRunIsBitwiseTheUninterruptedRun(string method, int stages, int stopAt)
    {
        using var s = NewSetup();
        TrainFully(s, Job(s, method, stages, "reference"));
        var job = Job(s, method, stages, "stopped");
        TrainFully(s, job, stopAfter: stopAt);
        Assert.Equal(stopAt, Field(job.Output, "loss").Count);
        Assert.True(Directory.Exists(Path.Combine(job.Output, "checkpoints", $"step-{stopAt:D6}")));

        Assert.Equal(stopAt, Resume(s, job));
        AssertBitwiseSameRun(Path.Combine(s.Folder.Path, "reference"), job.Output);
        var text = File.ReadAllText(Path.Combine(job.Output, "metrics.jsonl"));
        Assert.Contains($"{{\"event\":\"resume\",\"step\":{stopAt},\"from_step\":{stopAt}", text);
        Assert.Contains("{\"event\":\"checkpoint\",\"step\":8,\"save_ms\":", text);
    }

    [Fact]
    public void TheDataOrderCrossesTheEpochBoundaryAsUninterrupted()
    {
        using var s = NewSetup();
        var job = Job(s, "share-a", 1, "epoch");
        TrainFully(s, job, stopAfter: 5);
        using var store = new CheckpointStore(job.Output).LoadLatestValid();
        // 40 examples in micro-batches of 3 = 14 per epoch (the last holds one); 5 steps x 3 = 15 micro-batches, so the
        // checkpoint sits one micro-batch into the second epoch (the bitwise theory resumes from exactly there).
        Assert.Equal(new DataCursor(1, 3), store!.DataCursor);
        Assert.Equal(5, store.Step);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1)]
    public void ACheckpointFromTwoStagesResumesOnAnotherPartitionWithin1e5(int newStages)
    {
        using var s = NewSetup();
        var reference = Job(s, "share-ab", 2, "reference");
        TrainFully(s, reference);
        TrainFully(s, Job(s, "share-ab", 2, "moved"), stopAfter: 4);
        var resumed = Job(s, "share-ab", newStages, "moved");
        Assert.Equal(4, Resume(s, resumed));

        var (expected, actual) = (Field(reference.Output, "loss"), Field(resumed.Output, "loss"));
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var step in expected.Keys)
        {
            double e = double.Parse(expected[step]), a = double.Parse(actual[step]);
            Assert.True(Math.Abs(e - a) <= 1e-5 * Math.Abs(e), $"step {step}: loss {a:R} after re-partition to {newStages} vs {e:R}");
        }
        using var refBank = AdapterDirectory.Load(Path.Combine(reference.Output, "adapter"));
        using var bank = AdapterDirectory.Load(Path.Combine(resumed.Output, "adapter"));
        foreach (var p in refBank.Parameters)
        {
            using var scope = NewDisposeScope();
            double diff = (bank.Parameters.Single(q => q.Name == p.Name).Value - p.Value).abs().max().item<float>();
            Assert.True(diff <= 1e-5, $"{p.Name} differs by {diff:R} after re-partition to {newStages}");
        }
        Assert.Contains("\"stages_before\":2,\"stages\":" + newStages, File.ReadAllText(Path.Combine(resumed.Output, "metrics.jsonl")));
    }

    [Fact]
    public void ACorruptNewestCheckpointIsSkippedKeptAndTheResultStillBitwiseEqual()
    {
        using var s = NewSetup();
        TrainFully(s, Job(s, "share-ab", 2, "reference"));
        var job = Job(s, "share-ab", 2, "corrupt");
        TrainFully(s, job);
        var newest = Path.Combine(job.Output, "checkpoints", "step-000008");
        var file = Path.Combine(newest, CheckpointFiles.Adapter);
        var bytes = File.ReadAllBytes(file);
        bytes[^3] ^= 0x40;
        File.WriteAllBytes(file, bytes);

        var sink = new LineSink();
        using var log = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();
        Assert.Equal(6, Resume(s, job, log));

        var skipped = sink.Lines.Where(l => l.Contains("step-000008 skipped")).ToList();
        Assert.Single(skipped);
        Assert.Contains("adapter.safetensors sha256 mismatch", skipped[0]);
        Assert.Contains("using step-000006", skipped[0]);
        // Never deleted: moved aside when step 8 was saved again.
        Assert.Single(Directory.GetDirectories(Path.Combine(job.Output, "checkpoints"), ".invalid-step-000008-*"));
        AssertBitwiseSameRun(Path.Combine(s.Folder.Path, "reference"), job.Output);
        Assert.True(File.Exists(Path.Combine(job.Output, MetricsRewind.DiscardedFileName)));
    }

    [Fact]
    public void TrainRefusesAnOutputWithCheckpointsAndPointsToResume()
    {
        using var s = NewSetup();
        var job = Job(s, "lora", 1, "taken");
        TrainFully(s, job, stopAfter: 2);
        var e = Assert.Throws<CheckpointException>(() => TrainFully(s, job));
        Assert.Contains("sharelora resume --run", e.Message);
        Assert.Contains("--overwrite", e.Message);
    }

    [Fact]
    public void AResumeThatChangesTheTrajectoryIsRefusedNamingTheField()
    {
        using var s = NewSetup();
        TrainFully(s, Job(s, "lora", 1, "changed"), stopAfter: 2);
        var e = Assert.Throws<CheckpointException>(() => Resume(s, Job(s, "lora", 1, "changed", "optim.lr=0.5")));
        Assert.Contains("optim.lr is 0.5", e.Message);
        Assert.Contains("step-000002", e.Message);
    }

    [Fact]
    public void TheMetricsRewindKeepsStepsUpToTheCheckpointAndMovesTheRestAside()
    {
        using var folder = new TempFolder();
        var path = folder.Write("metrics.jsonl", string.Join("\n",
            """{"step":0,"eval_loss":3}""", """{"step":1,"loss":2,"wall_s":0.5}""", """{"step":2,"loss":1.5,"wall_s":1.25}""",
            """{"event":"checkpoint","step":2,"save_ms":3}""", """{"step":3,"loss":1.2,"wall_s":2}""", """{"step":4,"lo""") );
        var result = MetricsRewind.Rewind(path, 2);
        Assert.Equal(new MetricsRewind.Result(4, 2, 1.25), result);
        Assert.Equal(4, File.ReadAllLines(path).Length);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(folder.Path, MetricsRewind.DiscardedFileName)).Length);
    }

    [Fact]
    public void SavingAndReadingCheckpointsLeavesNoLiveTensors()
    {
        using var s = NewSetup();
        var job = Job(s, "share-a", 2, "leak");
        using var trainer = new LocalPipelineTrainer(job, s.Data, padId: 2);
        trainer.TrainStep();
        var store = new CheckpointStore(job.Output, 3, Serilog.Core.Logger.None);
        trainer.SaveCheckpoint(store, CheckpointMetrics.None);
        trainer.TrainStep();
        var live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        trainer.SaveCheckpoint(store, CheckpointMetrics.None);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        using (var loaded = store.LoadLatestValid())
        using (var state = TrainingCheckpoint.Read(loaded!))
        using (var slice = state.ForLayers(0, 2))
            Assert.Equal(2, state.Step);
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    private sealed class LineSink : ILogEventSink
    {
        private readonly List<string> _lines = [];
        public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToList(); } }
        public void Emit(LogEvent e) { lock (_lines) _lines.Add(e.RenderMessage()); }
    }
}
