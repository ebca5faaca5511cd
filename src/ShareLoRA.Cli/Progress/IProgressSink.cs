namespace ShareLoRA.Cli.Progress;

/// <summary>
/// Where a long command (training, `submit --wait`) reports its steps: a live bar on a terminal
/// (<see cref="LiveProgressSink"/>) or plain lines in logs and pipes (<see cref="PlainProgressSink"/>);
/// <see cref="ProgressSinks.Create"/> picks one. Report may be called from any one thread at a time.
/// </summary>
public interface IProgressSink : IDisposable
{
    /// <summary>Begins a run of <paramref name="totalSteps"/> steps; <paramref name="startStep"/> &gt; 0 when resuming.</summary>
    void Start(long totalSteps, long startStep = 0);

    /// <summary>Step <paramref name="step"/> (1-based, up to totalSteps) finished with this loss and throughput.</summary>
    /// <param name="step">Steps done so far.</param>
    /// <param name="loss">Training loss of the step.</param>
    /// <param name="tokensPerSecond">Throughput of the step.</param>
    /// <param name="extra">Short free text shown after the figures, e.g. "lr 1.0e-4  grad 0.31".</param>
    void Report(long step, double loss, double tokensPerSecond, string? extra = null);

    /// <summary>Ends the run: stops any live display and prints <paramref name="summary"/> with the elapsed time.</summary>
    void Finish(string summary);
}
