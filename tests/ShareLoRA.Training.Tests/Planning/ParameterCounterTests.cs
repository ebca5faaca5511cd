using Xunit;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Planning;

namespace ShareLoRA.Training.Tests.Planning;

public class ParameterCounterTests
{
    // Every number of the table in SHARELORA.md (r = 64; all 7 modules unless stated).
    [Theory]
    [InlineData("llama-7b", "all", 159_907_840L, 89_309_184L, 75_595_776L, 4_997_120L)]
    [InlineData("llama2-7b", "all", 159_907_840L, 89_309_184L, 75_595_776L, 4_997_120L)]
    [InlineData("llama-13b", "all", 250_347_520L, 139_165_696L, 117_440_512L, 6_258_688L)]
    [InlineData("llama2-13b", "all", 250_347_520L, 139_165_696L, 117_440_512L, 6_258_688L)]
    [InlineData("llama3-8b", "all", 167_772_160L, 90_570_752L, 82_444_288L, 5_242_880L)]
    [InlineData("llama3-8b", "q,v", 27_262_976L, 11_010_048L, 17_104_896L, 851_968L)]
    public void Table_of_SHARELORA_md_exactly(string preset, string targets, long lora, long shareA, long shareB, long shareAB)
    {
        var shape = ModelPresets.Get(preset);
        var modules = targets == "all" ? TargetModules.All : targets.Split(',').Select(t => { TargetModules.TryParse(t, out var m); return m; }).ToArray();
        long[] expected = [lora, shareA, shareB, shareAB];
        foreach (var (method, value) in AdapterMethods.All.Zip(expected))
        {
            var count = ParameterCounter.Count(shape, SharingPolicy.For(method, modules), rank: 64);
            Assert.Equal(value, count.Trainable);
            Assert.Equal(lora, count.LoraTrainable);
            Assert.Equal(count.Trainable, count.SharedParameters + shape.NumLayers * count.PerLayerParameters);
        }
        Assert.Equal(lora, ParameterCounter.LoraTrainable(shape, modules, 64));
    }

    [Fact]
    public void Reductions_match_the_papers_44_to_97_percent()
    {
        var shape = ModelPresets.Get("llama-7b");
        var shareA = ParameterCounter.Count(shape, SharingPolicy.For(AdapterMethod.ShareA, TargetModules.All), 64);
        var shareAB = ParameterCounter.Count(shape, SharingPolicy.For(AdapterMethod.ShareAB, TargetModules.All), 64);
        Assert.Equal(0.441, shareA.Reduction, 3);
        Assert.Equal(1 - 1.0 / 32, shareAB.Reduction, 12); // share-ab keeps exactly one layer's worth
        Assert.Equal(0.0, ParameterCounter.Count(shape, SharingPolicy.For(AdapterMethod.Lora, TargetModules.All), 64).Reduction);
    }

    [Fact]
    public void Self_attention_variant_shares_only_q_k_v_A()
    {
        var shape = ModelPresets.Get("llama-7b");
        var count = ParameterCounter.Count(shape, SharingPolicy.SelfAttentionOnly(AdapterMethod.ShareA, TargetModules.All), 64);
        // q, k, v each have one shared A of 64 x 4096; everything else stays per layer.
        Assert.Equal(3L * 64 * 4096, count.SharedParameters);
        Assert.Equal(159_907_840L - 31L * 3 * 64 * 4096, count.Trainable);
    }

    [Fact]
    public void Counts_scale_linearly_with_rank()
    {
        var shape = ModelPresets.Get("llama3-8b");
        foreach (var method in AdapterMethods.All)
        {
            var policy = SharingPolicy.For(method, TargetModules.All);
            Assert.Equal(ParameterCounter.Trainable(shape, policy, 64), 8 * ParameterCounter.Trainable(shape, policy, 8));
        }
    }

    [Fact]
    public void Rank_must_be_positive()
    {
        var e = Assert.Throws<ArgumentException>(() => ParameterCounter.Trainable(ModelPresets.Get("llama-7b"), SharingPolicy.For(AdapterMethod.Lora, [TargetModule.Q]), 0));
        Assert.Equal("adapter rank must be > 0 (got 0)", e.Message);
    }
}
