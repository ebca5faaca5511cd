namespace ShareLoRA.Training.Checkpoints;

/// <summary>One file of a checkpoint as the manifest records it: its name in the folder, size and SHA-256 (lowercase hex).</summary>
public sealed record CheckpointFileEntry(string Name, long Bytes, string Sha256);
