namespace ShareLoRA.Training.Metrics;

/// <summary>
/// The headline figures of a run from its metrics.jsonl: training loss at the first and the last step, the first and
/// the last evaluation, mean throughput, a cluster run's bytes on the wire (summed over its step lines), and how many
/// recovery events it logged. What `sharelora summary` and the demo's end table show.
/// </summary>
/// <param name="Steps">Step lines in the file.</param>
/// <param name="FirstStep">The first step line.</param>
/// <param name="LastStep">The last step line.</param>
/// <param name="FirstEval">The first evaluation (often the step-0 baseline), or null when the run never evaluated.</param>
/// <param name="LastEval">The last evaluation, or null.</param>
/// <param name="MeanTokensPerSecond">Mean of the step lines' tokens_per_s.</param>
/// <param name="IsClusterRun">The step lines carry a cluster run's wire figures (activation_bytes / adapter_sync_bytes).</param>
/// <param name="ActivationBytes">Sum of activation_bytes over the steps; null when no step line has it.</param>
/// <param name="AdapterSyncBytes">Sum of adapter_sync_bytes over the steps; null when no step line has it.</param>
/// <param name="RecoveryEvents">Count per recovery event name (<see cref="RecoveryEventNames"/>) that occurs, in that order.</param>
public sealed record RunSummary(
    int Steps,
    StepMetrics FirstStep,
    StepMetrics LastStep,
    EvalPoint? FirstEval,
    EvalPoint? LastEval,
    double MeanTokensPerSecond,
    bool IsClusterRun,
    long? ActivationBytes,
    long? AdapterSyncBytes,
    IReadOnlyList<(string Name, int Count)> RecoveryEvents)
{
    /// <summary>
    /// Event lines that mark a failure and its recovery: a cluster losing a worker ("worker_lost"), carrying on
    /// ("recovered"), and a run continued from a checkpoint ("resume").
    /// </summary>
    public static readonly IReadOnlyList<string> RecoveryEventNames = ["worker_lost", "recovered", "resume"];

    /// <summary>Summarizes <paramref name="log"/>.</summary>
    /// <exception cref="InvalidDataException">The log has no step line (<paramref name="source"/> names the file).</exception>
    public static RunSummary From(MetricsLog log, string source)
    {
        if (log.Steps.Count == 0) throw new InvalidDataException($"{source}: no step lines yet; nothing to summarize");
        var steps = log.Steps;
        long? activation = Sum(steps.Select(s => s.ActivationBytes));
        long? sync = Sum(steps.Select(s => s.AdapterSyncBytes));
        var recovery = RecoveryEventNames
            .Select(name => (Name: name, Count: log.Events.Count(e => e.Name == name)))
            .Where(x => x.Count > 0)
            .ToList();
        return new RunSummary(steps.Count, steps[0], steps[^1],
            log.Evaluations.Count > 0 ? log.Evaluations[0] : null,
            log.Evaluations.Count > 0 ? log.Evaluations[^1] : null,
            steps.Average(s => s.TokensPerSecond),
            activation is not null || sync is not null,
            activation, sync, recovery);
    }

    private static long? Sum(IEnumerable<long?> values)
    {
        long? total = null;
        foreach (var v in values)
            if (v is { } n) total = (total ?? 0) + n;
        return total;
    }
}
