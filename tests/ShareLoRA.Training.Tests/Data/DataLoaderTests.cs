using ShareLoRA.Training.Data;
using Xunit;

namespace ShareLoRA.Training.Tests.Data;

public sealed class DataLoaderTests
{
    /// <summary>Example i has i + 1 tokens, each equal to 100 + i, so a batch row tells which example it is.</summary>
    private static TokenizedExample[] Examples(int count) =>
        Enumerable.Range(0, count).Select(i => new TokenizedExample(Enumerable.Repeat(100 + i, i + 1).ToArray(),
            Enumerable.Repeat(100 + i, i + 1).ToArray())).ToArray();

    private static DataLoader Loader(int count = 10, int microBatchSize = 3, ulong seed = 42, bool shuffle = true, bool group = false) =>
        new(Examples(count), microBatchSize, padId: 0, seed, shuffle, group);

    [Fact]
    public void EpochOrderIsADeterministicPermutationOfSeedAndEpoch()
    {
        var a = Loader();
        var b = Loader();
        for (var epoch = 0; epoch < 3; epoch++)
        {
            Assert.Equal(a.Order(epoch), b.Order(epoch));
            Assert.Equal(Enumerable.Range(0, 10), a.Order(epoch).Order());
        }
        Assert.NotEqual(a.Order(0), a.Order(1));
        Assert.NotEqual(a.Order(0), Loader(seed: 43).Order(0));
    }

    [Fact]
    public void EpochOrderIsPinnedSoResumesWorkAcrossVersions()
    {
        // SplitMix64 + Fisher-Yates are fully specified; a change here breaks resuming old checkpoints.
        Assert.Equal([9, 6, 2, 4, 7, 5, 8, 0, 1, 3], Loader().Order(0)); // also computed by an independent Python port of DropoutSeed.Hash + SplitMix64
    }

    [Fact]
    public void WithoutShuffleTheOrderIsFileOrder()
    {
        Assert.Equal(Enumerable.Range(0, 10), Loader(shuffle: false).Order(5));
    }

    [Fact]
    public void EpochEndsWithAShortBatchThenTheCursorMovesToTheNextEpoch()
    {
        var loader = Loader(shuffle: false);
        var cursor = DataCursor.Start;
        var sizes = new List<int>();
        for (var i = 0; i < 4; i++) sizes.Add(loader.NextBatch(ref cursor).Rows);
        Assert.Equal([3, 3, 3, 1], sizes);
        Assert.Equal(new DataCursor(1, 0), cursor);
        Assert.Equal(4, loader.BatchesPerEpoch);
        Assert.Equal([0, 1, 2], loader.NextBatch(ref cursor).ExampleIndices);
    }

    [Fact]
    public void EveryExampleAppearsOncePerEpoch()
    {
        var loader = Loader(count: 11, microBatchSize: 4);
        var cursor = DataCursor.Start;
        var seen = new List<int>();
        while (cursor.Epoch == 0) seen.AddRange(loader.NextBatch(ref cursor).ExampleIndices);
        Assert.Equal(Enumerable.Range(0, 11), seen.Order());
    }

    [Fact]
    public void BatchRowsAreTheExamplesTheyName()
    {
        var loader = Loader();
        var (batch, _) = loader.Next(new DataCursor(2, 3));
        for (var r = 0; r < batch.Rows; r++)
            Assert.Equal(100 + batch.ExampleIndices[r], batch.InputRow(r)[0]);
        Assert.Equal(loader.Order(2).Skip(3).Take(3), batch.ExampleIndices);
    }

    [Fact]
    public void ResumingFromACursorGivesTheSameBatchesAsAnUninterruptedRun()
    {
        const int k = 5, m = 9; // crosses two epoch boundaries
        var uninterrupted = Loader();
        var cursor = DataCursor.Start;
        var all = Enumerable.Range(0, k + m).Select(_ => uninterrupted.NextBatch(ref cursor)).ToList();

        var first = Loader();
        var saved = DataCursor.Start;
        for (var i = 0; i < k; i++) first.NextBatch(ref saved);
        var persisted = saved with { }; // what a checkpoint stores

        var resumed = Loader(); // a fresh process
        var resumedCursor = persisted;
        for (var i = 0; i < m; i++)
        {
            var batch = resumed.NextBatch(ref resumedCursor);
            Assert.Equal(all[k + i].InputIds, batch.InputIds);
            Assert.Equal(all[k + i].Labels, batch.Labels);
            Assert.Equal(all[k + i].AttentionMask, batch.AttentionMask);
        }
        Assert.Equal(cursor, resumedCursor);
    }

    [Fact]
    public void NextStepGivesMicroBatchesInSequence()
    {
        var loader = Loader(microBatchSize: 2);
        var cursor = DataCursor.Start;
        var step = loader.NextStep(ref cursor, microBatches: 3);
        Assert.Equal(3, step.Count);
        Assert.Equal(loader.Order(0).Take(6), step.SelectMany(b => b.ExampleIndices));
        Assert.Equal(new DataCursor(0, 6), cursor);
    }

    [Fact]
    public void CursorFromOtherDataIsRefused()
    {
        var e = Assert.Throws<DatasetException>(() => Loader().Next(new DataCursor(0, 11)));
        Assert.Equal("data cursor (epoch 0, position 11) does not fit the 10 training examples: the checkpoint was written for other data", e.Message);
    }

    [Fact]
    public void GroupByLengthSortsEachWindowLongestFirstAndKeepsAPermutation()
    {
        var loader = Loader(count: 130, microBatchSize: 1, group: true); // windows of 50
        var order = loader.Order(0);
        Assert.Equal(Enumerable.Range(0, 130), order.Order());
        foreach (var window in order.Chunk(50))
            Assert.Equal(window.OrderByDescending(i => i), window); // length of example i is i + 1
        Assert.NotEqual(order, Loader(count: 130, microBatchSize: 1, group: true, seed: 1).Order(0));
    }

    [Fact]
    public void InOrderCoversEveryExampleOnceInDatasetOrder()
    {
        var batches = DataLoader.InOrder(Examples(7), 3, padId: 0).ToList();
        Assert.Equal([3, 3, 1], batches.Select(b => b.Rows));
        Assert.Equal(Enumerable.Range(0, 7), batches.SelectMany(b => b.ExampleIndices));
    }

    [Fact]
    public void EmptyDatasetIsRefused()
    {
        Assert.Throws<DatasetException>(() => new DataLoader([], 1, 0, 42));
    }
}
