using System.Diagnostics;
using System.Globalization;
using ShareLoRA.Cli.Formatting;
using Spectre.Console;

namespace ShareLoRA.Cli.Progress;

/// <summary>
/// Progress as a live Spectre.Console bar on a terminal: step, loss, tokens/s and ETA beside the bar, redrawn a few
/// times a second by a background task while the caller keeps reporting from its own thread.
/// </summary>
public sealed class LiveProgressSink : IProgressSink
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromMilliseconds(200);

    private readonly IAnsiConsole _console;
    private readonly Func<TimeSpan> _clock;
    private readonly object _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private EtaEstimator? _eta;
    private TimeSpan _startedAt;
    private string _description = "starting";
    private long _step;
    private Task? _render;

    /// <param name="console">The console to draw on (<see cref="Terminal.Rich"/>).</param>
    /// <param name="clock">Elapsed-time source; default a stopwatch started now.</param>
    public LiveProgressSink(IAnsiConsole console, Func<TimeSpan>? clock = null)
    {
        _console = console;
        if (clock is null)
        {
            var watch = Stopwatch.StartNew();
            clock = () => watch.Elapsed;
        }
        _clock = clock;
    }

    public void Start(long totalSteps, long startStep = 0)
    {
        lock (_gate)
        {
            if (_render != null) throw new InvalidOperationException("progress: Start called twice");
            _startedAt = _clock();
            _eta = new EtaEstimator(totalSteps, startStep, _startedAt);
            _step = startStep;
            _description = startStep > 0 ? $"resuming at step {startStep}/{totalSteps}" : $"step 0/{totalSteps}";
        }
        var progress = _console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new ProgressBarColumn(), new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left });
        _render = progress.StartAsync(async ctx =>
        {
            var task = ctx.AddTask(Markup.Escape(_description), maxValue: Math.Max(1, totalSteps));
            while (true)
            {
                bool stopping = _stop.IsCancellationRequested;
                lock (_gate)
                {
                    task.Value = Math.Min(_step, task.MaxValue);
                    task.Description = Markup.Escape(_description);
                }
                ctx.Refresh();
                if (stopping) break;
                try { await Task.Delay(RefreshEvery, _stop.Token); }
                catch (OperationCanceledException) { /* one last redraw with the final figures */ }
            }
        });
    }

    public void Report(long step, double loss, double tokensPerSecond, string? extra = null)
    {
        lock (_gate)
        {
            var eta = _eta ?? throw new InvalidOperationException("progress: Report before Start");
            var now = _clock();
            eta.Observe(step, now);
            _step = step;
            var inv = CultureInfo.InvariantCulture;
            _description = $"step {step.ToString(inv)}/{eta.TotalSteps.ToString(inv)}  loss {Figure(loss, "0.0000")}  " +
                           $"{Figure(tokensPerSecond, "#,0")} tok/s  eta {DurationText.Format(eta.Remaining)}" +
                           (string.IsNullOrWhiteSpace(extra) ? "" : "  " + extra.Trim());
        }
    }

    public void Finish(string summary)
    {
        Stop();
        _console.MarkupLine($"[green]{Markup.Escape(summary)}[/] ({DurationText.Format(_clock() - _startedAt)})");
    }

    /// <summary>Stops the live display (e.g. when the run failed) without a summary.</summary>
    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private void Stop()
    {
        if (_render is null || _stop.IsCancellationRequested) return;
        _stop.Cancel();
        _render.GetAwaiter().GetResult();
    }

    private static string Figure(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : value.ToString(CultureInfo.InvariantCulture);
}
