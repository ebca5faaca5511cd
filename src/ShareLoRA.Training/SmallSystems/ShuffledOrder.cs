using ShareLoRA.Training.Determinism;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>A seeded Fisher-Yates permutation of [0, n) per epoch (SplitMix64: same order on every machine).</summary>
public static class ShuffledOrder
{
    public static int[] Of(int count, long seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        var rng = new SplitMix64(CounterSeed.DataOrder(unchecked((ulong)seed), epoch));
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
