namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// Exclusive claim on saving one step: the file RUN/checkpoints/.lock-step-NNNNNN opened with FileShare.None, which .NET
/// maps to an advisory flock on Unix, so a second save of the same step fails at once, from this process or another.
/// The lock dies with its process, so a crash leaves no stale claim. The atomic rename at commit stays the final
/// guard: a non-empty folder is never replaced.
/// </summary>
internal sealed class StepLock : IDisposable
{
    private readonly FileStream _stream;

    private StepLock(FileStream stream) => _stream = stream;

    /// <summary>The lock, or null when another save of the step holds it.</summary>
    public static StepLock? TryAcquire(string checkpointsDir, long step)
    {
        var path = Path.Combine(checkpointsDir, CheckpointNames.Lock(step));
        try
        {
            return new StepLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose() => _stream.Dispose();
}
