namespace ShareLoRA.Training.Metrics;

/// <summary>One evaluation of a run: the eval loss measured after <paramref name="Step"/> optimizer steps (0 = before training).</summary>
public sealed record EvalPoint(long Step, double EvalLoss);
