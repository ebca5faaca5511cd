namespace ShareLoRA.Training.Metrics;

/// <summary>
/// One optimizer step's line of a run's metrics.jsonl: {"step", "loss", "lr", "grad_norm", "tokens_per_s", "wall_s"}
/// and, on steps that ran an evaluation, "eval_loss".
/// </summary>
/// <param name="Step">Optimizer step, counted from 1 for the first completed step (a resumed run continues the count).</param>
/// <param name="Loss">Mean training loss of the step (NaN when it diverged; written as "NaN").</param>
/// <param name="LearningRate">Learning rate the step used.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="TokensPerSecond">Training throughput of the step (tokens of the step / its wall time).</param>
/// <param name="WallSeconds">Seconds since the run (or its resume) started, at the end of the step.</param>
/// <param name="EvalLoss">Evaluation loss when the step ran an evaluation, else null.</param>
public sealed record StepMetrics(
    long Step,
    double Loss,
    double LearningRate,
    double GradNorm,
    double TokensPerSecond,
    double WallSeconds,
    double? EvalLoss = null);
