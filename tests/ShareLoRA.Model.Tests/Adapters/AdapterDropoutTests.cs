using ShareLoRA.Model.Adapters;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

public class AdapterDropoutTests
{
    private static readonly long[] Shape = [4, 8, 32];

    private static Tensor Mask(long seed, long step, int mb, int layer, TargetModule m) =>
        AdapterDropout.KeepMask(seed, AdapterForwardContext.Train(step, mb), layer, m, Shape, 0.5);

    private static bool Same(Tensor a, Tensor b) => eq(a, b).all().item<bool>();

    [Fact]
    public void SameTupleGivesTheSameMaskWhateverTheGlobalGenerator()
    {
        manual_seed(1);
        using var a = Mask(7, 3, 1, 2, TargetModule.V);
        manual_seed(2);
        using var noise = rand(100);
        using var b = Mask(7, 3, 1, 2, TargetModule.V);
        Assert.True(Same(a, b));
    }

    [Fact]
    public void AnyDifferentCounterGivesADifferentMask()
    {
        using var baseMask = Mask(7, 3, 1, 2, TargetModule.V);
        using var seed = Mask(8, 3, 1, 2, TargetModule.V);
        using var step = Mask(7, 4, 1, 2, TargetModule.V);
        using var mb = Mask(7, 3, 2, 2, TargetModule.V);
        using var layer = Mask(7, 3, 1, 3, TargetModule.V);
        using var module = Mask(7, 3, 1, 2, TargetModule.Q);
        foreach (var (other, what) in new[] { (seed, "seed"), (step, "step"), (mb, "micro-batch"), (layer, "layer"), (module, "module") })
            Assert.False(Same(baseMask, other), $"changing the {what} left the mask unchanged");
    }

    [Fact]
    public void MasksDoNotDependOnCallOrder()
    {
        var tuples = new[] { (0L, 0, 0, TargetModule.Q), (0L, 1, 0, TargetModule.Q), (5L, 0, 2, TargetModule.Down), (5L, 3, 1, TargetModule.Gate) };
        var forward = tuples.Select(t => Mask(11, t.Item1, t.Item2, t.Item3, t.Item4)).ToList();
        var backward = tuples.Reverse().Select(t => Mask(11, t.Item1, t.Item2, t.Item3, t.Item4)).Reverse().ToList();
        for (int i = 0; i < tuples.Length; i++) Assert.True(Same(forward[i], backward[i]));
        foreach (var t in forward.Concat(backward)) t.Dispose();
    }

    [Fact]
    public void BankDeltasRepeatForTheSameContextAndChangeWithTheStep()
    {
        using var bank = AdapterBank.Create(ToyDecoderStack.Layout("share-a", dropout: 0.5), 3);
        ToyDecoderStack.Randomize(bank, 4);
        using var x = randn(2, 16, 4);
        bank.Context = AdapterForwardContext.Train(6, 2);
        using var first = bank.ForLayer(1)!.Delta(TargetModule.Q, x)!;
        using var other = bank.ForLayer(2)!.Delta(TargetModule.Q, x)!; // another layer's draw in between
        using var again = bank.ForLayer(1)!.Delta(TargetModule.Q, x)!;
        Assert.True(Same(first, again));
        bank.Context = AdapterForwardContext.Train(7, 2);
        using var nextStep = bank.ForLayer(1)!.Delta(TargetModule.Q, x)!;
        Assert.False(Same(first, nextStep));
    }

    [Fact]
    public void InvertedDropoutKeepsOneMinusPAndScalesByItsInverse()
    {
        const double p = 0.1;
        using var x = ones(200, 1000);
        using var dropped = AdapterDropout.Apply(x, 5, AdapterForwardContext.Train(1, 0), 0, TargetModule.Q, p);
        double kept = dropped.ne(0).to_type(ScalarType.Float64).mean().item<double>();
        Assert.InRange(kept, 1 - p - 0.005, 1 - p + 0.005);
        using var nonZero = dropped.masked_select(dropped.ne(0));
        float expected = (float)(1.0 / (1 - p));
        Assert.True(eq(nonZero, expected).all().item<bool>());
    }

    [Fact]
    public void EvalModeAndZeroProbabilityDoNotDrop()
    {
        using var x = randn(3, 4);
        Assert.Same(x, AdapterDropout.Apply(x, 5, AdapterForwardContext.Eval, 0, TargetModule.Q, 0.5));
        Assert.Same(x, AdapterDropout.Apply(x, 5, AdapterForwardContext.Train(1, 0), 0, TargetModule.Q, 0.0));
    }

    [Fact]
    public void SeedsUseAllSixtyFourBitsOfTheRunSeed()
    {
        // libtorch's CPU generator keeps 32 bits of its seed; the fold must keep high-bit seeds apart.
        using var low = AdapterDropout.KeepMask(1L, AdapterForwardContext.Train(0, 0), 0, TargetModule.Q, Shape, 0.5);
        using var high = AdapterDropout.KeepMask(1L | (1L << 40), AdapterForwardContext.Train(0, 0), 0, TargetModule.Q, Shape, 0.5);
        Assert.False(Same(low, high));
        Assert.NotEqual(DropoutSeed.Hash([1, 2]), DropoutSeed.Hash([2, 1]));
    }
}
