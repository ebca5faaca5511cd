using ShareLoRA.Training.Determinism;

namespace ShareLoRA.Training.Data;

/// <summary>
/// The order in which one epoch visits the training examples: a Fisher-Yates permutation drawn from
/// SplitMix64(CounterSeed.DataOrder(seed, epoch)), or file order without shuffle. With group-by-length, each window of
/// 50 micro-batches is then sorted longest first (stable), so micro-batches hold similar lengths (QLoRA's
/// group_by_length, a LengthGroupedSampler in spirit).
/// </summary>
public static class EpochOrder
{
    public const int GroupWindowBatches = 50;

    public static int[] Of(IReadOnlyList<int> lengths, ulong seed, int epoch, bool shuffle, bool groupByLength, int microBatchSize)
    {
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        if (shuffle)
        {
            var rng = new SplitMix64(CounterSeed.DataOrder(seed, epoch));
            for (var i = order.Length - 1; i > 0; i--)
            {
                var j = rng.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        if (groupByLength)
        {
            var window = GroupWindowBatches * microBatchSize;
            for (var start = 0; start < order.Length; start += window)
            {
                var slice = order.AsSpan(start, Math.Min(window, order.Length - start));
                var sorted = slice.ToArray().OrderByDescending(i => lengths[i]).ToArray(); // OrderBy is stable
                sorted.CopyTo(slice);
            }
        }
        return order;
    }
}
