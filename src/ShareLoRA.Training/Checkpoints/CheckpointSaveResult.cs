namespace ShareLoRA.Training.Checkpoints;

/// <summary>What one <see cref="CheckpointStore.Save"/> did and how long it took.</summary>
/// <param name="Step">The saved step.</param>
/// <param name="Directory">The committed folder.</param>
/// <param name="BytesWritten">Tensor files plus manifest.</param>
/// <param name="WriteMs">Writing, hashing and fsyncing the files, writing the manifest and the rename.</param>
/// <param name="PruneMs">Verifying older checkpoints, pruning them and removing stale temp folders.</param>
/// <param name="Pruned">Steps deleted by pruning.</param>
public sealed record CheckpointSaveResult(long Step, string Directory, long BytesWritten, double WriteMs, double PruneMs, IReadOnlyList<long> Pruned)
{
    public double TotalMs => WriteMs + PruneMs;
}
