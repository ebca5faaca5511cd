using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Determinism;

namespace ShareLoRA.Training.Data;

/// <summary>
/// The order in which one epoch visits the training examples: a Fisher-Yates permutation drawn from
/// SplitMix64(<see cref="Seed"/>(seed, epoch)), or file order without shuffle. With group-by-length, each window of
/// 50 micro-batches is then sorted longest first (stable), so micro-batches hold similar lengths (QLoRA's
/// group_by_length, a LengthGroupedSampler in spirit).
/// </summary>
public static class EpochOrder
{
    public const int GroupWindowBatches = 50;

    // Purpose tag ("DATAORD1") keeps the data-order stream apart from dropout, init and hold-out seeds.
    private const ulong DataOrderTag = 0x444154414F524431UL;

    /// <summary>Seed of the training-order permutation of one epoch: a counter-based hash of (tag, run seed, epoch).</summary>
    public static ulong Seed(ulong runSeed, int epoch) => DropoutSeed.Hash([DataOrderTag, runSeed, (ulong)(uint)epoch]);

    public static int[] Of(IReadOnlyList<int> lengths, ulong seed, int epoch, bool shuffle, bool groupByLength, int microBatchSize)
    {
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        if (shuffle)
        {
            var rng = new SplitMix64(Seed(seed, epoch));
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
