namespace ShareLoRA.Training.Metrics;

/// <summary>
/// A non-step line of metrics.jsonl, marked by an "event" field (e.g. "checkpoint", "resume", "replan"): kept apart
/// from the step series so plots and summaries can skip or annotate it.
/// </summary>
/// <param name="Name">The "event" field's value.</param>
/// <param name="Step">The "step" field when present.</param>
/// <param name="WallSeconds">The "wall_s" field when present.</param>
/// <param name="Json">The whole line as written, for fields this reader does not know.</param>
public sealed record MetricsEvent(string Name, long? Step, double? WallSeconds, string Json);
