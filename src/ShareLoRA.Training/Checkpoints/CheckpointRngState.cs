namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// Randomness state of a run at a checkpoint. All randomness here is counter-based (<see cref="Determinism.CounterSeed"/>:
/// a hash of the run seed and counters such as the step), so the run seed and the step fix it; the manifest still keeps
/// it as its own "rng" object so a stateful generator can add fields later without a format change.
/// </summary>
/// <param name="RunSeed">The job's run seed.</param>
/// <param name="Step">The optimizer step counter the next draws start from.</param>
/// <param name="Scheme">How the state is to be read; only <see cref="CounterScheme"/> exists.</param>
public sealed record CheckpointRngState(long RunSeed, long Step, string Scheme = CheckpointRngState.CounterScheme)
{
    /// <summary>Seeds are SplitMix64 hashes of (run seed, purpose, counters).</summary>
    public const string CounterScheme = "counter-splitmix64";
}
