namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// A checkpoint that cannot be saved or loaded as asked (the step is already saved or being saved, a named checkpoint
/// is invalid), with a one-line message naming the folder and the reason.
/// </summary>
public sealed class CheckpointException(string message, Exception? inner = null) : IOException(message, inner);
