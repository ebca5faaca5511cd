namespace ShareLoRA.Model.Adapters;

/// <summary>
/// Counter-based seeds: a SplitMix64-style hash of a tuple of integers. A dropout mask or an initial draw is then a
/// pure function of (run seed, step, micro-batch, layer, module, ...), so a resumed or re-partitioned run, or a
/// recomputed forward, sees the same randomness whatever ran before it.
/// </summary>
public static class DropoutSeed
{
    // Domain tags keep the init stream and the dropout stream apart even for equal counters.
    private const ulong DropoutDomain = 0x64726f706f7574UL; // "dropout"
    private const ulong InitDomain = 0x696e6974UL;          // "init"

    /// <summary>SplitMix64's finalizer: a bijection on 64-bit words with good avalanche.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }

    /// <summary>Hash of an ordered tuple; each word is absorbed through one SplitMix64 step so order matters.</summary>
    public static ulong Hash(params ReadOnlySpan<ulong> words)
    {
        ulong h = 0x9e3779b97f4a7c15UL;
        foreach (var w in words)
            h = Mix(h + 0x9e3779b97f4a7c15UL + Mix(w));
        return h;
    }

    /// <summary>Seed of the dropout mask of one (layer, module) in one micro-batch of one step of a run.</summary>
    public static ulong ForDropout(long runSeed, long step, int microBatch, int layer, TargetModule module) =>
        Hash([DropoutDomain, (ulong)runSeed, (ulong)step, (ulong)(uint)microBatch, (ulong)(uint)layer, (ulong)module]);

    /// <summary>Seed of the initial draw of one matrix ('A' or 'B') of one (module, layer).</summary>
    public static ulong ForInit(long seed, TargetModule module, int layer, char matrix) =>
        Hash([InitDomain, (ulong)seed, (ulong)module, (ulong)(uint)layer, matrix]);

    /// <summary>
    /// The value to give torch.Generator. libtorch's CPU generator (mt19937) keeps only the low 32 bits of its
    /// seed, so fold the high half in rather than silently dropping it.
    /// </summary>
    public static ulong ForGenerator(ulong hash) => (hash ^ (hash >> 32)) & 0xffffffffUL;
}
