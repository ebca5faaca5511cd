namespace ShareLoRA.Training.Metrics;

/// <summary>
/// One optimizer step's line of a run's metrics.jsonl: {"step", "loss", "lr", "grad_norm", "tokens_per_s", "wall_s"},
/// the trainer's "clip_coefficient", "tokens" and "target_tokens", "eval_loss" (and a task's "dev_*" metrics) on steps that
/// ran an evaluation, and a cluster run's "bubble_fraction", "activation_bytes" and "adapter_sync_bytes". Optional fields are null when a writer
/// does not know them (the small-system trainers, hand-written files); they are then left out of the line.
/// </summary>
/// <param name="Step">Optimizer steps done, 1 after the first update (a resumed run continues the count).</param>
/// <param name="Loss">Token-weighted mean training loss of the step, before the update (NaN when it diverged; written as "NaN").</param>
/// <param name="LearningRate">The learning rate of this update.</param>
/// <param name="GradNorm">Global gradient norm before clipping (shared tensors counted once).</param>
/// <param name="ClipCoefficient">min(1, max_grad_norm / (norm + 1e-6)); 1 without clipping.</param>
/// <param name="Tokens">Real (non-pad) tokens of the step.</param>
/// <param name="TargetTokens">Tokens that carried loss.</param>
/// <param name="TokensPerSecond">Tokens / wall time of this step (forward, backward, update).</param>
/// <param name="WallSeconds">Seconds since training started, at the end of the step (a resumed run continues the clock).</param>
/// <param name="EvalLoss">Token-weighted eval loss after this step, on steps where evaluation ran.</param>
/// <param name="BubbleFraction">Cluster runs: the stages' idle share of the step.</param>
/// <param name="ActivationBytes">Cluster runs: activation and activation-gradient bytes the stages sent to each other in the step.</param>
/// <param name="AdapterSyncBytes">Cluster runs: shared-adapter bytes of the step (partial gradients up, new values down).</param>
/// <param name="EvalMetrics">The task's metrics of this step's evaluation (a GLUE job's dev_accuracy, dev_f1, ...), written
/// right after eval_loss; null without a task or when the step did not evaluate.</param>
public sealed record StepMetrics(
    int Step,
    double Loss,
    double LearningRate,
    double GradNorm,
    double? ClipCoefficient,
    long? Tokens,
    long? TargetTokens,
    double TokensPerSecond,
    double WallSeconds,
    double? EvalLoss = null,
    double? BubbleFraction = null,
    long? ActivationBytes = null,
    long? AdapterSyncBytes = null,
    EvalMetrics? EvalMetrics = null);
