using ShareLoRA.Model.Adapters;

namespace ShareLoRA.Training.Determinism;

/// <summary>
/// Counter-based seeds: a pure hash of (run seed, purpose, counters) to 64 bits. Dropout masks and data order are
/// functions of these tuples, never of process history, so a resumed or re-partitioned run draws the same randomness.
/// Each counter is absorbed through the SplitMix64 mix (a bijection), so tuples that differ in one counter always give
/// different seeds and unrelated tuples collide with probability about 2^-64.
/// </summary>
public static class CounterSeed
{
    // Distinct purposes must never share a stream: each one starts from its own tag.
    private const ulong DropoutTag = 0x44524F504F555431UL; // "DROPOUT1"
    private const ulong DataOrderTag = 0x444154414F524431UL; // "DATAORD1"
    private const ulong HoldOutTag = 0x484F4C444F555431UL; // "HOLDOUT1"

    /// <summary>
    /// Seed of the dropout mask of one adapter application: (run seed, optimizer step, micro-batch, layer, module).
    /// The module enters as its <see cref="TargetModule"/> value, so that enum's order is part of the seed (pinned by a test).
    /// </summary>
    public static ulong Dropout(ulong runSeed, long step, int microBatch, int layer, TargetModule module) =>
        Hash(DropoutTag, runSeed, (ulong)step, (ulong)microBatch, (ulong)layer, (ulong)module);

    /// <summary>Seed of the training-order permutation of one epoch.</summary>
    public static ulong DataOrder(ulong runSeed, long epoch) => Hash(DataOrderTag, runSeed, (ulong)epoch);

    /// <summary>Seed of the permutation that picks the held-out eval examples.</summary>
    public static ulong HoldOut(ulong runSeed) => Hash(HoldOutTag, runSeed);

    /// <summary>The same seed as a non-negative long, for APIs such as torch.Generator.manual_seed.</summary>
    public static long ToInt64(ulong seed) => (long)(seed & long.MaxValue);

    /// <summary>Hash of a purpose tag and any counters, order-sensitive.</summary>
    public static ulong Hash(ulong tag, params ReadOnlySpan<ulong> counters)
    {
        var h = SplitMix64.Mix(tag);
        foreach (var counter in counters)
            h = SplitMix64.Mix(h + SplitMix64.Mix(counter + 0x9E3779B97F4A7C15UL));
        return h;
    }
}
