namespace ShareLoRA.Cli.Progress;

/// <summary>
/// Time left in a run from the pace of its recent steps: seconds per step measured over a sliding window of the last
/// reports (so the slow first step, checkpoints and speed changes fade out), times the steps left. Pure: time comes in
/// as arguments.
/// </summary>
public sealed class EtaEstimator
{
    private readonly Queue<(long Step, TimeSpan At)> _window = new();
    private readonly int _size;

    /// <param name="totalSteps">Step count at which the run ends.</param>
    /// <param name="startStep">Steps already done when timing began (a resumed run), at time <paramref name="startedAt"/>.</param>
    /// <param name="startedAt">Clock reading when timing began.</param>
    /// <param name="window">How many recent reports the pace is measured over (at least 1).</param>
    public EtaEstimator(long totalSteps, long startStep, TimeSpan startedAt, int window = 20)
    {
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), $"ETA window must be >= 1 (got {window})");
        TotalSteps = totalSteps;
        _size = window + 1; // window intervals need window + 1 points
        _window.Enqueue((startStep, startedAt));
    }

    public long TotalSteps { get; }

    /// <summary>Steps done at the latest observation.</summary>
    public long Step => _window.Last().Step;

    /// <summary>Records that <paramref name="step"/> steps are done at clock reading <paramref name="at"/>.</summary>
    public void Observe(long step, TimeSpan at)
    {
        // A step that does not advance (a repeated report) says nothing about pace.
        if (step <= Step) return;
        _window.Enqueue((step, at));
        while (_window.Count > _size) _window.Dequeue();
    }

    /// <summary>Average seconds per step over the window, or null before any step finished.</summary>
    public double? SecondsPerStep
    {
        get
        {
            var (first, last) = (_window.First(), _window.Last());
            long steps = last.Step - first.Step;
            return steps > 0 ? (last.At - first.At).TotalSeconds / steps : null;
        }
    }

    /// <summary>Estimated time until <see cref="TotalSteps"/>: zero when done, null while the pace is unknown.</summary>
    public TimeSpan? Remaining => Estimate(Step, TotalSteps, SecondsPerStep);

    /// <summary>(total - done) x seconds per step; zero when done; null when the pace is unknown.</summary>
    public static TimeSpan? Estimate(long stepsDone, long totalSteps, double? secondsPerStep)
    {
        if (stepsDone >= totalSteps) return TimeSpan.Zero;
        if (secondsPerStep is not { } pace || !double.IsFinite(pace) || pace < 0) return null;
        return TimeSpan.FromSeconds((totalSteps - stepsDone) * pace);
    }
}
