using System.Diagnostics;
using ShareLoRA.Cli.Formatting;

namespace ShareLoRA.Cli.Progress;

/// <summary>
/// Progress as plain lines for logs, pipes and CI: one line when <see cref="EverySteps"/> steps or
/// <see cref="EveryInterval"/> have passed since the last line (whichever comes first), and always for the first
/// and the last step, so a log shows both the start and the end without drowning in lines (items alike). Quiet
/// (--quiet): only the final summary.
/// </summary>
public sealed class PlainProgressSink : IProgressSink
{
    private readonly TextWriter _out;
    private readonly TextWriter _lines; // _out behind a lock, shared with Messages so lines never interleave mid-line
    private readonly Func<TimeSpan> _clock;
    private readonly object _gate = new();
    private readonly bool _quiet;
    private EtaEstimator? _eta;
    private TimeSpan _startedAt, _lastLineAt;
    private long _lastLineStep = -1;
    private string? _pending; // the latest report not yet written, printed by Finish so the log ends on the true state

    /// <param name="output">Where lines go.</param>
    /// <param name="everySteps">Steps between lines (at least 1).</param>
    /// <param name="everyInterval">Time between lines even when fewer steps passed (default 30 s).</param>
    /// <param name="clock">Elapsed-time source (tests pass a fake); default a stopwatch started now.</param>
    /// <param name="quiet">Write only the summary of <see cref="Finish"/>: no step lines, no <see cref="Messages"/>.</param>
    public PlainProgressSink(TextWriter output, int everySteps = 10, TimeSpan? everyInterval = null, Func<TimeSpan>? clock = null,
        bool quiet = false)
    {
        if (everySteps < 1) throw new ArgumentOutOfRangeException(nameof(everySteps), $"progress: every-steps must be >= 1 (got {everySteps})");
        _out = output;
        _quiet = quiet;
        EverySteps = everySteps;
        EveryInterval = everyInterval ?? TimeSpan.FromSeconds(30);
        if (clock is null)
        {
            var watch = Stopwatch.StartNew();
            clock = () => watch.Elapsed;
        }
        _clock = clock;
        _lines = TextWriter.Synchronized(output);
        Messages = quiet ? TextWriter.Null : _lines;
    }

    public int EverySteps { get; }

    public TimeSpan EveryInterval { get; }

    public TextWriter Messages { get; }

    public void Start(long totalSteps, long startStep = 0)
    {
        lock (_gate)
        {
            _startedAt = _lastLineAt = _clock();
            _eta = new EtaEstimator(totalSteps);
            _lastLineStep = -1;
            _pending = null;
            if (startStep > 0) WriteLine($"resuming at step {startStep}/{totalSteps}");
        }
    }

    public void Report(long step, double loss, double tokensPerSecond, string? extra = null) =>
        Record(step, (eta, now) => ProgressLine.Format(step, eta.TotalSteps, loss, tokensPerSecond, now - _startedAt, eta.Remaining, extra));

    public void ReportItem(long done, string text) => Record(done, (eta, _) => ProgressLine.Item(done, eta.TotalSteps, text));

    public void Finish(string? summary)
    {
        lock (_gate)
        {
            if (_pending != null) WriteLine(_pending);
            _pending = null;
            if (summary != null) WriteLine($"{summary} ({DurationText.Format(_clock() - _startedAt)})", always: true);
        }
    }

    public void Dispose() => _out.Flush();

    // Steps and items alike: observe the pace, then write the line now or keep it pending until it is due.
    private void Record(long step, Func<EtaEstimator, TimeSpan, string> format)
    {
        lock (_gate)
        {
            var eta = _eta ?? throw new InvalidOperationException("progress: Report before Start");
            var now = _clock();
            eta.Observe(step, now);
            var line = format(eta, now);
            bool due = _lastLineStep < 0 || step >= eta.TotalSteps || step - _lastLineStep >= EverySteps || now - _lastLineAt >= EveryInterval;
            if (!due)
            {
                _pending = line;
                return;
            }
            WriteLine(line);
            _lastLineStep = step;
            _lastLineAt = now;
            _pending = null;
        }
    }

    private void WriteLine(string line, bool always = false)
    {
        if (_quiet && !always) return;
        _lines.WriteLine(line);
        _lines.Flush();
    }
}
