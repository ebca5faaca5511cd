namespace ShareLoRA.Training.Checkpoints;

/// <summary>One committed checkpoint folder as <see cref="CheckpointStore.List"/> reports it.</summary>
/// <param name="Step">The step from the folder name.</param>
/// <param name="Directory">Full path of the folder.</param>
/// <param name="CreatedUtc">From the manifest, when it parsed.</param>
/// <param name="Bytes">Total size of the files in the folder as found on disk.</param>
/// <param name="Verification">Valid, or the reason it is not.</param>
public sealed record CheckpointInfo(long Step, string Directory, DateTimeOffset? CreatedUtc, long Bytes, CheckpointVerification Verification)
{
    public string Name => System.IO.Path.GetFileName(Directory);
    public bool IsValid => Verification.IsValid;
}
