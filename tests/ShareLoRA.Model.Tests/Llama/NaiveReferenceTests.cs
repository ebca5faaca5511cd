using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Llama;

/// <summary>The model's logits against the naive double-precision reference on tiny random configs.</summary>
public class NaiveReferenceTests
{
    // Large enough that attention is far from uniform and RoPE matters (std 0.02 would hide convention errors).
    private const double InitStd = 0.3;
    private static readonly int[] Ids = [1, 5, 9, 63, 0, 17, 42, 8, 8, 30, 2];

    private static void AssertClose(double[][] expected, Tensor actual, double tol)
    {
        using var a = actual.to(ScalarType.Float64).cpu().contiguous();
        var v = a.data<double>().ToArray();
        int vocab = expected[0].Length;
        double worst = 0;
        for (int t = 0; t < expected.Length; t++)
            for (int i = 0; i < vocab; i++) worst = Math.Max(worst, Math.Abs(expected[t][i] - v[t * vocab + i]));
        Assert.True(worst < tol, $"max |logit difference| {worst:E3} >= {tol:E1}");
    }

    [Theory]
    [MemberData(nameof(TinyConfigs.Names), MemberType = typeof(TinyConfigs))]
    public void LogitsMatchNaiveReference(string configName)
    {
        var config = TinyConfigs.ByName(configName);
        using var model = LlamaModel.CreateRandom(config, seed: 7, initStd: InitStd);
        var expected = new NaiveLlama(model).Logits(Ids);
        using var ids = tensor(Ids.Select(i => (long)i).ToArray()).view(1, Ids.Length);
        using var logits = model.Forward(ids);
        Assert.Equal([1, Ids.Length, config.VocabSize], logits.shape);
        AssertClose(expected, logits[0], 1e-4);
    }

    [Theory]
    [MemberData(nameof(TinyConfigs.Names), MemberType = typeof(TinyConfigs))]
    public void AdapterDeltasActLikeUpdatedWeights(string configName)
    {
        // Every module of layers 0 and 2 gets a dense delta; the naive model adds it to the weight instead.
        var config = TinyConfigs.ByName(configName);
        using var model = LlamaModel.CreateRandom(config, seed: 3, initStd: InitStd);
        using var adapters = new DenseDeltaAdapters(config, [0, 2], TargetModules.All, seed: 11);
        var expected = new NaiveLlama(model, adapters.DeltasByWeightName).Logits(Ids);
        using var ids = tensor(Ids.Select(i => (long)i).ToArray()).view(1, Ids.Length);
        using var logits = model.Forward(ids, adapters: adapters);
        AssertClose(expected, logits[0], 1e-4);
    }

    [Fact]
    public void Llama3ScalingHitsAllThreeFrequencyBands()
    {
        // Guards the test config itself: kept, divided and blended frequencies must all occur.
        var c = TinyConfigs.Llama3Scaling;
        var plain = NaiveLlama.InvFreq(c with { RopeScaling = null });
        var scaled = NaiveLlama.InvFreq(c);
        int kept = 0, divided = 0, blended = 0;
        for (int i = 0; i < plain.Length; i++)
        {
            if (Math.Abs(scaled[i] - plain[i]) < 1e-15) kept++;
            else if (Math.Abs(scaled[i] - plain[i] / 8) < 1e-15) divided++;
            else blended++;
        }
        Assert.True(kept > 0 && divided > 0 && blended > 0, $"kept {kept}, divided {divided}, blended {blended}");
        var model = RotaryEmbedding.InverseFrequencies(c.HeadDim, c.RopeTheta, c.RopeScaling);
        for (int i = 0; i < plain.Length; i++) Assert.Equal(scaled[i], model[i], 1e-6 * scaled[i] + 1e-12);
    }
}
