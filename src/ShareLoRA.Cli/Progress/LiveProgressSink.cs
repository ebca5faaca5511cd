using System.Diagnostics;
using System.Text;
using ShareLoRA.Cli.Formatting;
using Spectre.Console;

namespace ShareLoRA.Cli.Progress;

/// <summary>
/// Progress as a live Spectre.Console bar on a terminal: step, loss, tokens/s and ETA beside the bar, redrawn a few
/// times a second by a background task while the caller keeps reporting from its own thread. Lines written to
/// <see cref="Messages"/> appear above the bar (Spectre's live display re-renders itself below them).
/// </summary>
public sealed class LiveProgressSink : IProgressSink
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromMilliseconds(200);
    private const int BarWidth = 20;
    // Bar, "100%" and the gaps between the columns: what the description leaves to the others on one line.
    private const int OtherColumnsWidth = BarWidth + 4 + 4;

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
        Messages = new ConsoleLines(console);
    }

    public TextWriter Messages { get; }

    public void Start(long totalSteps, long startStep = 0)
    {
        lock (_gate)
        {
            if (_render != null) throw new InvalidOperationException("progress: Start called twice");
            _startedAt = _clock();
            _eta = new EtaEstimator(totalSteps);
            _step = startStep;
            _description = startStep > 0 ? $"resuming at step {startStep}/{totalSteps}" : $"starting: 0/{totalSteps}";
        }
        var progress = _console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new ProgressBarColumn { Width = BarWidth }, new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left });
        _render = progress.StartAsync(async ctx =>
        {
            ProgressTask task;
            lock (_gate) task = ctx.AddTask(Markup.Escape(_description), maxValue: Math.Max(1, totalSteps));
            while (true)
            {
                bool stopping = _stop.IsCancellationRequested;
                lock (_gate)
                {
                    task.Value = Math.Min(_step, task.MaxValue);
                    task.Description = Markup.Escape(Fit(_description));
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
            eta.Observe(step, _clock());
            _step = step;
            _description = ProgressLine.Figures(step, eta.TotalSteps, loss, tokensPerSecond, eta.Remaining, extra);
        }
    }

    public void ReportItem(long done, string text)
    {
        lock (_gate)
        {
            var eta = _eta ?? throw new InvalidOperationException("progress: Report before Start");
            eta.Observe(done, _clock());
            _step = done;
            _description = ProgressLine.ItemFigures(done, eta.TotalSteps, text, eta.Remaining);
        }
    }

    /// <summary>The description beside the bar now (what the next redraw shows).</summary>
    public string Description
    {
        get { lock (_gate) return _description; }
    }

    public void Finish(string? summary)
    {
        Stop();
        if (summary != null) _console.MarkupLine($"[green]{Markup.Escape(summary)}[/] ({DurationText.Format(_clock() - _startedAt)})");
    }

    /// <summary>Stops the live display (e.g. when the run failed) without a summary.</summary>
    public void Dispose()
    {
        Stop();
        Messages.Flush();
        _stop.Dispose();
    }

    // A description wider than the terminal would wrap, and Spectre then squeezes the bar and percentage columns into
    // one-character stacks: cut it to the line instead (the plain lines and the run log keep every figure).
    private string Fit(string description)
    {
        int room = Math.Max(10, _console.Profile.Width - OtherColumnsWidth);
        return description.Length <= room ? description : description[..(room - 1)] + "…";
    }

    private void Stop()
    {
        if (_render is null || _stop.IsCancellationRequested) return;
        _stop.Cancel();
        _render.GetAwaiter().GetResult();
    }

    /// <summary>
    /// A writer that hands each complete line to the Spectre console, which places it above a running live display;
    /// a partial line waits for its end (log sinks write a line in several pieces).
    /// </summary>
    private sealed class ConsoleLines(IAnsiConsole console) : TextWriter
    {
        private readonly StringBuilder _line = new();

        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_line)
            {
                if (value == '\n') Emit();
                else if (value != '\r') _line.Append(value);
            }
        }

        public override void Write(string? value)
        {
            if (value is null) return;
            lock (_line) foreach (var c in value) Write(c);
        }

        public override void Flush()
        {
            lock (_line) if (_line.Length > 0) Emit();
        }

        private void Emit()
        {
            console.WriteLine(_line.ToString());
            _line.Clear();
        }
    }
}
