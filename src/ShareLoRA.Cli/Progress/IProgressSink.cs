namespace ShareLoRA.Cli.Progress;

/// <summary>
/// Where a long command (`train`, `resume`, `submit --wait`, `eval`) reports its steps or items: a live bar on a terminal
/// (<see cref="LiveProgressSink"/>) or plain lines in logs, pipes and CI (<see cref="PlainProgressSink"/>);
/// <see cref="ProgressSinks.Create"/> picks one. Report may be called from any one thread at a time.
/// </summary>
public interface IProgressSink : IDisposable
{
    /// <summary>
    /// Where the command's other output lines go while progress is shown (e.g. the run log's console lines): above the
    /// live bar rather than through it, in order with the plain lines, nowhere under --quiet. Thread-safe.
    /// </summary>
    TextWriter Messages { get; }

    /// <summary>Begins a run of <paramref name="totalSteps"/> steps; <paramref name="startStep"/> &gt; 0 when resuming.</summary>
    void Start(long totalSteps, long startStep = 0);

    /// <summary>Step <paramref name="step"/> (1-based, up to totalSteps) finished with this loss and throughput.</summary>
    /// <param name="step">Steps done so far.</param>
    /// <param name="loss">Training loss of the step.</param>
    /// <param name="tokensPerSecond">Throughput of the step.</param>
    /// <param name="extra">Short free text shown after the figures, e.g. "lr 1.0e-4  grad 0.310".</param>
    void Report(long step, double loss, double tokensPerSecond, string? extra = null);

    /// <summary>
    /// Item <paramref name="done"/> (1-based, up to Start's total) finished, for runs counted in items rather than training
    /// steps (eval: subjects, problems). <paramref name="text"/> says what it found, e.g. "anatomy: accuracy 0.4815 (65/135)";
    /// a plain line reads "[done/total] text".
    /// </summary>
    void ReportItem(long done, string text);

    /// <summary>
    /// Ends the run: stops any live display and prints <paramref name="summary"/> with the elapsed time; null prints no
    /// summary (a command whose result goes to stdout, like eval, prints it itself).
    /// </summary>
    void Finish(string? summary);
}
