namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// Whether a checkpoint folder can be trusted: its manifest parses, names the folder's step, and every file it lists
/// exists with the recorded size and SHA-256. <see cref="Manifest"/> is set whenever the manifest parsed, even when a
/// file then failed its check.
/// </summary>
/// <param name="IsValid">True when every check passed.</param>
/// <param name="Reason">Null when valid; otherwise one clause naming the file and what was expected and found.</param>
/// <param name="Manifest">The parsed manifest, or null when it is missing or unreadable.</param>
public sealed record CheckpointVerification(bool IsValid, string? Reason, CheckpointManifest? Manifest)
{
    public static CheckpointVerification Valid(CheckpointManifest manifest) => new(true, null, manifest);

    public static CheckpointVerification Invalid(string reason, CheckpointManifest? manifest = null) => new(false, reason, manifest);

    public override string ToString() => IsValid ? "valid" : $"invalid: {Reason}";
}
