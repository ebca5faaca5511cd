namespace ShareLoRA.Training.Data;

/// <summary>
/// Serves training micro-batches as a pure function of (examples, seed, cursor): <see cref="Next"/> gives the batch at
/// a cursor and the cursor after it. An epoch's last micro-batch may be short (no example dropped or repeated); then
/// the next epoch starts with a fresh permutation. One optimizer step is <see cref="NextStep"/>: micro_batches
/// micro-batches in a row.
/// </summary>
public sealed class DataLoader
{
    private readonly IReadOnlyList<TokenizedExample> _examples;
    private readonly int[] _lengths;
    private readonly ulong _seed;
    private readonly bool _shuffle;
    private readonly bool _groupByLength;
    private EpochCache? _cached; // the latest epoch's order; an immutable object swapped by reference, so reads never tear

    public DataLoader(IReadOnlyList<TokenizedExample> examples, int microBatchSize, int padId, ulong seed, bool shuffle = true,
        bool groupByLength = false)
    {
        if (examples.Count == 0) throw new DatasetException("no training examples to load batches from");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(microBatchSize);
        _examples = examples;
        _lengths = examples.Select(e => e.Length).ToArray();
        MicroBatchSize = microBatchSize;
        PadId = padId;
        _seed = seed;
        _shuffle = shuffle;
        _groupByLength = groupByLength;
    }

    public int MicroBatchSize { get; }
    public int PadId { get; }
    public int Count => _examples.Count;

    /// <summary>Micro-batches per epoch (the last one may be short).</summary>
    public int BatchesPerEpoch => (Count + MicroBatchSize - 1) / MicroBatchSize;

    /// <summary>The example indices of one epoch, in visiting order.</summary>
    public IReadOnlyList<int> Order(int epoch)
    {
        var cached = _cached;
        if (cached is not null && cached.Epoch == epoch) return cached.Order;
        var order = EpochOrder.Of(_lengths, _seed, epoch, _shuffle, _groupByLength, MicroBatchSize);
        _cached = new EpochCache(epoch, order);
        return order;
    }

    private sealed record EpochCache(int Epoch, int[] Order);

    /// <summary>The micro-batch at <paramref name="cursor"/> and the cursor after it.</summary>
    public (Batch Batch, DataCursor Next) Next(DataCursor cursor)
    {
        if (cursor.Epoch < 0 || cursor.Position < 0 || cursor.Position > Count)
            throw new DatasetException(
                $"data cursor ({cursor}) does not fit the {Count} training examples: the checkpoint was written for other data");
        if (cursor.Position == Count) cursor = new DataCursor(cursor.Epoch + 1, 0);
        var order = Order(cursor.Epoch);
        var take = Math.Min(MicroBatchSize, Count - cursor.Position);
        var indices = new int[take];
        for (var i = 0; i < take; i++) indices[i] = order[cursor.Position + i];
        var end = cursor.Position + take;
        var next = end == Count ? new DataCursor(cursor.Epoch + 1, 0) : new DataCursor(cursor.Epoch, end);
        return (BatchCollator.Collate(_examples, indices, PadId), next);
    }

    /// <summary>The micro-batch at <paramref name="cursor"/>; advances the cursor.</summary>
    public Batch NextBatch(ref DataCursor cursor)
    {
        var (batch, next) = Next(cursor);
        cursor = next;
        return batch;
    }

    /// <summary>The <paramref name="microBatches"/> micro-batches of one optimizer step; advances the cursor.</summary>
    public IReadOnlyList<Batch> NextStep(ref DataCursor cursor, int microBatches)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(microBatches);
        var batches = new Batch[microBatches];
        for (var i = 0; i < microBatches; i++) batches[i] = NextBatch(ref cursor);
        return batches;
    }

    /// <summary>Every example once, in dataset order, in micro-batches of <paramref name="batchSize"/> (evaluation).</summary>
    public static IEnumerable<Batch> InOrder(IReadOnlyList<TokenizedExample> examples, int batchSize, int padId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        for (var start = 0; start < examples.Count; start += batchSize)
        {
            var take = Math.Min(batchSize, examples.Count - start);
            yield return BatchCollator.Collate(examples, Enumerable.Range(start, take).ToArray(), padId);
        }
    }
}
