namespace ShareLoRA.Training.Determinism;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fully specified 64-bit generator. Used instead of System.Random, whose
/// algorithm is unspecified and may change between .NET versions, so data order is the same on every machine and
/// runtime forever.
/// </summary>
public struct SplitMix64(ulong seed)
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        _state += Golden;
        return Mix(_state);
    }

    /// <summary>Uniform integer in [0, bound) without modulo bias (Lemire's multiply-shift with rejection).</summary>
    public int NextInt(int bound)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bound);
        var b = (ulong)bound;
        var threshold = (0UL - b) % b; // 2^64 mod b
        while (true)
        {
            var product = Math.BigMul(Next(), b, out var low);
            if (low >= threshold) return (int)product;
        }
    }

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>The SplitMix64 output function: a bijective 64-bit avalanche mix.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
