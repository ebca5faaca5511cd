using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Determinism;
using Xunit;

namespace ShareLoRA.Training.Tests.Determinism;

/// <summary>SplitMix64 and the counter-based data-order seeds (built on the model layer's <see cref="DropoutSeed"/>).</summary>
public sealed class SplitMix64Tests
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
    public void SplitMix64MixIsTheSameFunctionAsDropoutSeedMix()
    {
        foreach (var z in new ulong[] { 0, 1, 42, ulong.MaxValue, 0x9E3779B97F4A7C15UL })
            Assert.Equal(DropoutSeed.Mix(z), SplitMix64.Mix(z));
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
    public void DataOrderSeedsDependOnSeedAndEpochOnly()
    {
        Assert.Equal(EpochOrder.Seed(42, 2), EpochOrder.Seed(42, 2));
        var seeds = new HashSet<ulong>();
        foreach (var run in new ulong[] { 0, 1, 42 })
            for (var epoch = 0; epoch < 10; epoch++)
                Assert.True(seeds.Add(EpochOrder.Seed(run, epoch)));
    }

    [Fact]
    public void DataOrderUsesAStreamApartFromDropout()
    {
        Assert.NotEqual(EpochOrder.Seed(42, 0), DropoutSeed.ForDropout(42, 0, 0, 0, TargetModule.Q));
        Assert.NotEqual(EpochOrder.Seed(42, 0), DropoutSeed.ForInit(42, TargetModule.Q, 0, 'A'));
    }
}
