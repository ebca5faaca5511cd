using Serilog;
using Serilog.Core;
using Serilog.Events;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Checkpoints;

/// <summary>A run folder, a logger that records rendered lines, and content builders for checkpoint tests.</summary>
internal sealed class CheckpointTestRun : IDisposable
{
    private readonly TempFolder _folder = new();
    private readonly LineSink _sink = new();

    public CheckpointTestRun()
    {
        Log = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(_sink).CreateLogger();
    }

    public string RunDir => _folder.Path;
    public string CheckpointsDir => System.IO.Path.Combine(RunDir, "checkpoints");
    public ILogger Log { get; }

    /// <summary>Rendered messages at Warning or above, in order.</summary>
    public IReadOnlyList<string> Warnings => _sink.Lines(LogEventLevel.Warning);

    public IReadOnlyList<string> AllLines => _sink.Lines(LogEventLevel.Verbose);

    public void ClearLog() => _sink.Clear();

    public CheckpointStore Store(int keep = 3, TimeProvider? time = null) => new(RunDir, keep, Log, time);

    public string Folder(long step) => System.IO.Path.Combine(CheckpointsDir, $"step-{step:D6}");

    public static string JobJson { get; } =
        JobConfig.Parse("""{ "model": "/models/tiny", "data": { "train": "/data/train.jsonl" }, "seed": 7 }""", "job.json", "/").ToJson();

    /// <summary>
    /// Content for <paramref name="step"/> whose tensors depend on the step: an adapter file and an optimizer file (AdamW
    /// state through <see cref="AdamWStateTensors"/>). The tensors are the caller's to dispose: all of them are in the returned list.
    /// </summary>
    public static (CheckpointContent Content, List<Tensor> Owned) Content(long step, double? evalLoss = null)
    {
        using var gen = new Generator((ulong)(1000 + step));
        var owned = new List<Tensor>();
        Tensor Keep(Tensor t) { owned.Add(t); return t; }
        var adapter = new Dictionary<string, Tensor>
        {
            ["shared.q.A"] = Keep(randn([4, 16], generator: gen)),
            ["layers.0.q.B"] = Keep(randn([16, 4], generator: gen)),
            ["layers.1.q.B"] = Keep(randn([16, 4], generator: gen)),
        };
        var state = new Dictionary<string, AdamWParameterState>
        {
            ["layers.0.q.B"] = new(step, randn([16, 4], generator: gen), rand([16, 4], generator: gen)),
        };
        var optimizer = AdamWStateTensors.ToTensors(state);
        owned.AddRange(optimizer.Values);
        foreach (var st in state.Values) st.Dispose(); // the views in `optimizer` keep the storage alive
        var content = new CheckpointContent(
            step,
            new DataCursor((int)(step / 100), (int)(step % 100) * 8),
            new CheckpointRngState(7, step),
            JobJson,
            new CheckpointPlan(2, [1, 1], "1f1b", 4),
            new CheckpointMetrics(1.0 / (step + 3), evalLoss),
            new Dictionary<string, IReadOnlyDictionary<string, Tensor>>
            {
                [CheckpointFiles.Adapter] = adapter,
                [CheckpointFiles.Optimizer] = optimizer,
            });
        return (content, owned);
    }

    /// <summary>Saves the standard content of each step and disposes its tensors.</summary>
    public void Save(CheckpointStore store, params long[] steps)
    {
        foreach (var step in steps)
        {
            var (content, owned) = Content(step);
            try { store.Save(content); }
            finally { foreach (var t in owned) t.Dispose(); }
        }
    }

    public void Dispose()
    {
        (Log as IDisposable)?.Dispose();
        _folder.Dispose();
    }

    private sealed class LineSink : ILogEventSink
    {
        private readonly List<LogEvent> _events = [];

        public void Emit(LogEvent logEvent)
        {
            lock (_events) _events.Add(logEvent);
        }

        public IReadOnlyList<string> Lines(LogEventLevel min)
        {
            lock (_events) return _events.Where(e => e.Level >= min).Select(e => e.RenderMessage()).ToList();
        }

        public void Clear()
        {
            lock (_events) _events.Clear();
        }
    }
}

/// <summary>A clock that always says the same time.</summary>
internal sealed class FixedTime(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}
