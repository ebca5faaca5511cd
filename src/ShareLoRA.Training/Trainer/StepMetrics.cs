namespace ShareLoRA.Training.Trainer;

/// <summary>
/// One optimizer step as metrics.jsonl records it.
/// </summary>
/// <param name="Step">Optimizer steps done, 1 after the first update.</param>
/// <param name="Loss">Token-weighted mean cross-entropy over the step's target tokens (before the update).</param>
/// <param name="LearningRate">The learning rate of this update.</param>
/// <param name="GradNorm">Global gradient norm before clipping (shared tensors counted once).</param>
/// <param name="ClipCoefficient">min(1, max_grad_norm / (norm + 1e-6)); 1 without clipping.</param>
/// <param name="Tokens">Real (non-pad) tokens of the step.</param>
/// <param name="TargetTokens">Tokens that carried loss.</param>
/// <param name="TokensPerSecond">Tokens / wall time of this step (forward, backward, update).</param>
/// <param name="WallSeconds">Seconds since training started.</param>
/// <param name="EvalLoss">Token-weighted eval loss after this step, on steps where evaluation ran.</param>
public sealed record StepMetrics(
    int Step,
    double Loss,
    double LearningRate,
    double GradNorm,
    double ClipCoefficient,
    long Tokens,
    long TargetTokens,
    double TokensPerSecond,
    double WallSeconds,
    double? EvalLoss = null);
