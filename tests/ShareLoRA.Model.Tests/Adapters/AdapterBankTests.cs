using ShareLoRA.Model.Adapters;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

public class AdapterBankTests
{
    private static bool Same(Tensor a, Tensor b) => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && eq(a, b).all().item<bool>();

    [Theory]
    [MemberData(nameof(AllMethods))]
    public void AtInitEveryDeltaIsExactlyZeroAndTheModelIsUnchanged(string method)
    {
        using var bank = AdapterBank.Create(ToyDecoderStack.Layout(method), seed: 11);
        bank.Context = AdapterForwardContext.Train(step: 0, microBatch: 0); // dropout on: still zero
        using var stack = new ToyDecoderStack(3, 5, ScalarType.Float32);
        using var x = stack.Input(1);
        for (int l = 0; l < 3; l++)
            foreach (var m in ToyDecoderStack.Targets)
            {
                using var input = randn(2, 3, ToyDecoderStack.Dims[m].DIn);
                using var delta = bank.ForLayer(l)!.Delta(m, input)!;
                Assert.Equal([2L, 3, ToyDecoderStack.Dims[m].DOut], delta.shape);
                Assert.True(eq(delta, 0).all().item<bool>(), $"{method}: layer {l} {m} delta is not zero at init");
            }
        using var plain = stack.Forward(x, null);
        using var adapted = stack.Forward(x, bank);
        Assert.True(Same(plain, adapted));
    }

    [Fact]
    public void BankTensorsOutliveTheDisposeScopeTheBankWasCreatedIn()
    {
        AdapterBank bank;
        using (NewDisposeScope()) bank = AdapterBank.Create(ToyDecoderStack.Layout("share-a"), 1);
        using (bank)
        {
            Assert.All(bank.Parameters, p => Assert.False(p.Value.IsInvalid));
            using var sum = bank.A(TargetModule.Q, 0).abs().sum();
            Assert.True(sum.item<float>() > 0);
        }
    }

    [Fact]
    public void ModulesThatAreNotTargetsGetNoDelta()
    {
        using var bank = AdapterBank.Create(ToyDecoderStack.Layout("lora"), 1);
        using var x = randn(1, 4);
        Assert.Null(bank.ForLayer(0)!.Delta(TargetModule.K, x));
    }

    [Fact]
    public void InitIsKaimingUniformAForEveryAndZeroForEveryB()
    {
        var dims = new Dictionary<TargetModule, (int, int)> { [TargetModule.Q] = (256, 64), [TargetModule.Down] = (1024, 256) };
        var layout = AdapterLayout.ForMethod("lora", 2, dims, [TargetModule.Q, TargetModule.Down], 64, 16, 0.1);
        using var bank = AdapterBank.Create(layout, 3);
        foreach (var p in bank.Parameters)
        {
            Assert.True(p.Value.requires_grad);
            Assert.Equal(ScalarType.Float32, p.Value.dtype);
            if (p.Matrix == 'B') { Assert.True(eq(p.Value, 0).all().item<bool>()); continue; }
            double bound = 1 / Math.Sqrt(dims[p.Module].Item1);
            double max = p.Value.abs().max().item<float>();
            Assert.True(max <= bound, $"{p.Name}: max |A| {max} exceeds 1/sqrt(d_in) = {bound}");
            Assert.True(max > 0.99 * bound, $"{p.Name}: max |A| {max} far below the bound {bound}: not U(-b, b)?");
            // U(-b, b) has variance b^2/3.
            double var = p.Value.to_type(ScalarType.Float64).var().item<double>();
            Assert.InRange(var / (bound * bound / 3), 0.9, 1.1);
        }
        // Different layers and modules draw different values.
        Assert.False(Same(bank.A(TargetModule.Q, 0), bank.A(TargetModule.Q, 1)));
    }

    [Theory]
    [InlineData("share-a")]
    [InlineData("share-ab")]
    [InlineData("custom-qv-a")]
    public void SharedAIsLayerZerosLoraDraw(string method)
    {
        using var lora = AdapterBank.Create(ToyDecoderStack.Layout("lora"), 21);
        using var shared = AdapterBank.Create(ToyDecoderStack.Layout(method), 21);
        foreach (var m in ToyDecoderStack.Targets)
        {
            var a = shared.Find(AdapterParameter.SharedName(m, 'A'));
            if (a is null) { Assert.True(Same(shared.A(m, 2), lora.A(m, 2))); continue; }
            Assert.True(Same(a.Value, lora.A(m, 0)), $"{method}: shared {m} A is not layer 0's draw");
            for (int l = 0; l < 3; l++) Assert.Same(a.Value, shared.A(m, l)); // one tensor for every layer
        }
    }

    [Theory]
    [MemberData(nameof(AllMethods))]
    public void StageBankEqualsTheSliceOfTheFullBank(string method)
    {
        var layout = ToyDecoderStack.Layout(method, numLayers: 5);
        using var full = AdapterBank.Create(layout, 99);
        using var stage = AdapterBank.Create(layout, 99, firstLayer: 2, endLayer: 4);
        var expected = full.Parameters.Where(p => p.Shared || p.Layer is >= 2 and < 4).Select(p => p.Name).ToList();
        Assert.Equal(expected, stage.Parameters.Select(p => p.Name).ToList());
        foreach (var p in stage.Parameters)
            Assert.True(Same(p.Value, full.Find(p.Name)!.Value), $"{method}: {p.Name} differs between stage and full bank");
        Assert.Throws<ArgumentOutOfRangeException>(() => stage.ForLayer(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => stage.ForLayer(4));
        Assert.NotNull(stage.ForLayer(3));
    }

    [Theory]
    [MemberData(nameof(AllMethods))]
    public void ParametersCountSharedTensorsOnceAndMatchTheClosedForm(string method)
    {
        const int L = 3, r = 2;
        var layout = ToyDecoderStack.Layout(method, L, r);
        using var bank = AdapterBank.Create(layout, 1);
        // SHARELORA.md's closed forms, written out independently of the implementation.
        long sumIn = ToyDecoderStack.Dims.Values.Sum(d => (long)r * d.DIn), sumOut = ToyDecoderStack.Dims.Values.Sum(d => (long)r * d.DOut);
        long expected = method switch
        {
            "lora" => L * (sumIn + sumOut),
            "share-a" => sumIn + L * sumOut,
            "share-b" => sumOut + L * sumIn,
            "share-ab" => sumIn + sumOut,
            // A shared for q and v only.
            _ => r * (4 + 4) + L * r * (6 + 4) + L * sumOut,
        };
        Assert.Equal(expected, bank.Parameters.Sum(p => p.Value.numel()));
        Assert.Equal(expected, layout.TrainableParameterCount);
        Assert.Equal(bank.Parameters.Count, bank.Parameters.Select(p => p.Value.Handle).Distinct().Count());
        Assert.Equal(bank.Parameters.Count, bank.Parameters.Select(p => p.Name).Distinct().Count());
        int sharedCount = bank.Parameters.Count(p => p.Shared);
        Assert.Equal(layout.SharedA.Count + layout.SharedB.Count, sharedCount);
        Assert.All(bank.Parameters.Where(p => p.Shared), p => Assert.Null(p.Layer));
    }

    [Theory]
    // model, L, hidden, ffn, kv, targets (null = all 7), lora, share-a, share-b, share-ab (SHARELORA.md table, r = 64)
    [InlineData(32, 4096, 11008, 4096, false, 159_907_840L, 89_309_184L, 75_595_776L, 4_997_120L)]
    [InlineData(40, 5120, 13824, 5120, false, 250_347_520L, 139_165_696L, 117_440_512L, 6_258_688L)]
    [InlineData(32, 4096, 14336, 1024, false, 167_772_160L, 90_570_752L, 82_444_288L, 5_242_880L)]
    [InlineData(32, 4096, 14336, 1024, true, 27_262_976L, 11_010_048L, 17_104_896L, 851_968L)]
    public void TrainableCountsMatchThePapersTable(int layers, int hidden, int ffn, int kv, bool qvOnly, long lora, long shareA, long shareB, long shareAb)
    {
        var dims = AdapterLayout.LlamaDims(hidden, ffn, kv);
        IReadOnlyList<TargetModule> targets = qvOnly ? [TargetModule.Q, TargetModule.V] : TargetModules.All;
        long Count(string method) => AdapterLayout.ForMethod(method, layers, dims, targets, 64, 16, 0.1).TrainableParameterCount;
        Assert.Equal(lora, Count("lora"));
        Assert.Equal(shareA, Count("share-a"));
        Assert.Equal(shareB, Count("share-b"));
        Assert.Equal(shareAb, Count("share-ab"));
    }

    [Fact]
    public void MethodNamesFollowTheSharing()
    {
        foreach (var m in new[] { "lora", "share-a", "share-b", "share-ab" })
            Assert.Equal(m, ToyDecoderStack.Layout(m).MethodName);
        Assert.Equal("custom", ToyDecoderStack.Layout("custom-qv-a").MethodName);
    }

    [Fact]
    public void InvalidLayoutsAreRejectedWithTheField()
    {
        var e = Assert.Throws<ArgumentException>(() => AdapterBank.Create(ToyDecoderStack.Layout("lora", rank: 0), 1));
        Assert.Contains("rank", e.Message);
        e = Assert.Throws<ArgumentException>(() => AdapterBank.Create(ToyDecoderStack.Layout("lora", dropout: 1.0), 1));
        Assert.Contains("dropout", e.Message);
    }

    [Fact]
    public void EvalDeltaIsScaleTimesXATransposeBTranspose()
    {
        using var bank = AdapterBank.Create(ToyDecoderStack.Layout("share-a"), 4, dtype: ScalarType.Float64);
        ToyDecoderStack.Randomize(bank, 8);
        using var x = randn([2, 5, 6], ScalarType.Float64);
        using var delta = bank.ForLayer(1)!.Delta(TargetModule.Down, x)!;
        using var expected = matmul(matmul(x, bank.A(TargetModule.Down, 1).t()), bank.B(TargetModule.Down, 1).t()).mul(3.0 / 2.0);
        Assert.True(allclose(delta, expected, rtol: 1e-12, atol: 1e-12));
    }

    [Fact]
    public void Float32BankAcceptsOtherInputDtypesAndReturnsTheInputDtype()
    {
        using var bank = AdapterBank.Create(ToyDecoderStack.Layout("lora"), 4);
        ToyDecoderStack.Randomize(bank, 8);
        using var x = randn([2, 4], ScalarType.BFloat16);
        using var delta = bank.ForLayer(0)!.Delta(TargetModule.Q, x)!;
        Assert.Equal(ScalarType.BFloat16, delta.dtype);
    }

    [Fact]
    public void MergedWeightAppliesTheSameUpdateAsTheAdapter()
    {
        using var bank = AdapterBank.Create(ToyDecoderStack.Layout("share-b"), 4, dtype: ScalarType.Float64);
        ToyDecoderStack.Randomize(bank, 9);
        using var w0 = randn([3, 4], ScalarType.Float64);
        using var x = randn([7, 4], ScalarType.Float64);
        using var merged = bank.MergedWeight(TargetModule.V, 2, w0);
        using var viaMerge = nn.functional.linear(x, merged);
        using var delta = bank.Delta(2, TargetModule.V, x)!;
        using var viaAdapter = nn.functional.linear(x, w0) + delta;
        Assert.True(allclose(viaMerge, viaAdapter, rtol: 1e-12, atol: 1e-12));
        Assert.False(merged.requires_grad);
    }

    public static TheoryData<string> AllMethods() => new(ToyDecoderStack.Methods);
}
