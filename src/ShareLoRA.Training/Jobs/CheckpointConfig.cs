namespace ShareLoRA.Training.Jobs;

/// <summary>The "checkpoint" section.</summary>
/// <param name="Every">Write a checkpoint every N optimizer steps (default 250); 0 = only at the end of training.</param>
/// <param name="Keep">Keep the newest N checkpoints (default 3), plus the best by eval loss when evaluating.</param>
public sealed record CheckpointConfig(int Every, int Keep)
{
    public const int DefaultEvery = 250;
    public const int DefaultKeep = 3;
}
