using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Determinism;
using Xunit;

namespace ShareLoRA.Training.Tests.Determinism;

public sealed class CounterSeedTests
{
    [Fact]
    public void SplitMix64MatchesTheReferenceSequence()
    {
        // Reference outputs of splitmix64.c (Vigna) from state 0.
        var rng = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, rng.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, rng.Next());
    }

    [Fact]
    public void NextIntStaysInRangeAndCoversIt()
    {
        var rng = new SplitMix64(1);
        var counts = new int[7];
        for (var i = 0; i < 7000; i++) counts[rng.NextInt(7)]++;
        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
    }

    [Fact]
    public void EqualTuplesAgree()
    {
        Assert.Equal(CounterSeed.Dropout(42, 100, 3, 7, TargetModule.V), CounterSeed.Dropout(42, 100, 3, 7, TargetModule.V));
        Assert.Equal(CounterSeed.DataOrder(42, 2), CounterSeed.DataOrder(42, 2));
    }

    [Fact]
    public void EveryComponentChangesTheSeed()
    {
        var seeds = new HashSet<ulong>();
        foreach (var runSeed in new ulong[] { 0, 1, 42 })
        for (var step = 0L; step < 4; step++)
        for (var micro = 0; micro < 4; micro++)
        for (var layer = 0; layer < 4; layer++)
        foreach (var module in TargetModules.All)
            Assert.True(seeds.Add(CounterSeed.Dropout(runSeed, step, micro, layer, module)));
        Assert.Equal(3 * 4 * 4 * 4 * 7, seeds.Count);
    }

    [Fact]
    public void ComponentsAreNotInterchangeable()
    {
        // (step 1, layer 2) and (step 2, layer 1) must differ: the hash is order-sensitive.
        Assert.NotEqual(CounterSeed.Dropout(42, 1, 0, 2, TargetModule.Q), CounterSeed.Dropout(42, 2, 0, 1, TargetModule.Q));
        Assert.NotEqual(CounterSeed.Dropout(42, 0, 1, 0, TargetModule.Q), CounterSeed.Dropout(42, 0, 0, 1, TargetModule.Q));
    }

    [Fact]
    public void PurposesUseSeparateStreams()
    {
        Assert.NotEqual(CounterSeed.DataOrder(42, 0), CounterSeed.HoldOut(42));
        Assert.NotEqual(CounterSeed.DataOrder(42, 0), CounterSeed.Dropout(42, 0, 0, 0, TargetModule.Q));
    }

    [Fact]
    public void SeedsArePinnedSoResumesWorkAcrossVersions()
    {
        Assert.Equal(PinnedDropout, CounterSeed.Dropout(42, 1, 2, 3, TargetModule.Up));
        Assert.InRange(CounterSeed.ToInt64(ulong.MaxValue), 0, long.MaxValue);
    }

    private const ulong PinnedDropout = 16600783742746703929UL; // also computed by an independent Python port
}
