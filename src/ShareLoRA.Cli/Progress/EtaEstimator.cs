namespace ShareLoRA.Cli.Progress;

/// <summary>
/// Time left in a run from the pace of its recent steps: seconds per step measured over a sliding window of the last
/// reports (so a slow first step, checkpoints and speed changes fade out), times the steps left. Timing starts at the
/// first observed step, never at the start of the command: loading the model, waiting for workers or restoring a
/// checkpoint is not a step and must not inflate the pace. Pure: time comes in as arguments.
/// </summary>
public sealed class EtaEstimator
{
    private readonly Queue<(long Step, TimeSpan At)> _window = new();
    private readonly int _size;

    /// <param name="totalSteps">Step count at which the run ends.</param>
    /// <param name="window">How many recent step intervals the pace is measured over (at least 1).</param>
    public EtaEstimator(long totalSteps, int window = 20)
    {
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), $"ETA window must be >= 1 (got {window})");
        TotalSteps = totalSteps;
        _size = window + 1; // window intervals need window + 1 points
    }

    public long TotalSteps { get; }

    /// <summary>Steps done at the latest observation, or null before the first.</summary>
    public long? Step => _window.Count > 0 ? _window.Last().Step : null;

    /// <summary>Records that <paramref name="step"/> steps are done at clock reading <paramref name="at"/>.</summary>
    public void Observe(long step, TimeSpan at)
    {
        // A step that does not advance (a repeated report) says nothing about pace.
        if (step <= Step) return;
        _window.Enqueue((step, at));
        while (_window.Count > _size) _window.Dequeue();
    }

    /// <summary>Average seconds per step over the window, or null before two steps were observed.</summary>
    public double? SecondsPerStep
    {
        get
        {
            if (_window.Count < 2) return null;
            var (first, last) = (_window.First(), _window.Last());
            return (last.At - first.At).TotalSeconds / (last.Step - first.Step);
        }
    }

    /// <summary>Estimated time until <see cref="TotalSteps"/>: zero when done, null while the pace is unknown.</summary>
    public TimeSpan? Remaining => Estimate(Step ?? 0, TotalSteps, SecondsPerStep);

    /// <summary>(total - done) x seconds per step; zero when done; null when the pace is unknown.</summary>
    public static TimeSpan? Estimate(long stepsDone, long totalSteps, double? secondsPerStep)
    {
        if (stepsDone >= totalSteps) return TimeSpan.Zero;
        if (secondsPerStep is not { } pace || !double.IsFinite(pace) || pace < 0) return null;
        return TimeSpan.FromSeconds((totalSteps - stepsDone) * pace);
    }
}
