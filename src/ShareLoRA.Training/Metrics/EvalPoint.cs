namespace ShareLoRA.Training.Metrics;

/// <summary>
/// One evaluation of a run: the eval loss measured after <paramref name="Step"/> optimizer steps (0 = before training),
/// and the task's metrics of that evaluation when the line has them (GLUE jobs' dev_* fields).
/// </summary>
public sealed record EvalPoint(long Step, double EvalLoss, EvalMetrics? Metrics = null);
