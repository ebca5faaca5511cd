namespace ShareLoRA.Training.Checkpoints;

/// <summary>Training figures at the checkpoint, for listings and for keeping the best checkpoint by eval loss.</summary>
/// <param name="LastLoss">Training loss of the last optimizer step (may be NaN or infinite after a divergence).</param>
/// <param name="EvalLoss">Eval loss at this step, when an evaluation ran.</param>
public sealed record CheckpointMetrics(double? LastLoss, double? EvalLoss = null)
{
    public static readonly CheckpointMetrics None = new(null, null);
}
