using ShareLoRA.Model.Generation;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tests.Llama;
using ShareLoRA.TestSupport;
using Xunit;
using static TorchSharp.torch;
using Generator = ShareLoRA.Model.Generation.Generator;

namespace ShareLoRA.Model.Tests.Generation;

/// <summary>Scoring against a direct log_softmax, and the sampler's determinism and nucleus.</summary>
public class ScorerAndSamplingTests
{
    [Fact]
    public void LogProbsEqualLogSoftmaxOfTheLogits()
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Llama3Scaling, 3, initStd: 0.3);
        int[] ids = [1, 20, 33, 4, 4, 60, 2];
        var result = Scorer.Score(model, ids);
        using var input = tensor(ids.Select(i => (long)i).ToArray()).view(1, ids.Length);
        using var logits = model.Forward(input);
        using var logSoftmax = logits[0].to(ScalarType.Float64).log_softmax(-1);
        Assert.Equal(ids, result.TokenIds);
        Assert.Equal(ids.Length - 1, result.LogProbs.Count);
        for (int i = 0; i < ids.Length - 1; i++)
            Assert.Equal(logSoftmax[i, ids[i + 1]].item<double>(), result.LogProbs[i], 1e-5);
        Assert.Equal(-result.LogProbs.Average(), result.Nll, 1e-12);
        Assert.Equal(Math.Exp(result.Nll), result.Perplexity, 1e-9);
    }

    [SkippableFact]
    public void GreedyContinuationIsLikelyUnderStories260K()
    {
        var golden = Goldens.Greedy()[0];
        using var model = LlamaModel.Load(SharedAssets.Stories260K, new ModelLoadOptions());
        var result = Scorer.Score(model, golden.PromptIds.Concat(golden.GreedyIds).ToArray());
        Assert.InRange(result.Perplexity, 1.0, 3.0);
        Assert.Throws<ArgumentException>(() => Scorer.Score(model, [1]));
        Assert.Throws<ArgumentException>(() => Scorer.Score(model, [1, 512]));
    }

    [Fact]
    public void SamplingIsDeterministicForASeed()
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Gqa, 3, initStd: 0.3);
        int[] prompt = [1, 5, 9];
        var a = Generator.Generate(model, prompt, new GenerationOptions(24, Temperature: 1.0, Seed: 42));
        var b = Generator.Generate(model, prompt, new GenerationOptions(24, Temperature: 1.0, Seed: 42, UseKvCache: false));
        var c = Generator.Generate(model, prompt, new GenerationOptions(24, Temperature: 1.0, Seed: 43));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(24, a.Count);
    }

    [Fact]
    public void TinyTopPKeepsOnlyTheMostLikelyToken()
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Gqa, 3, initStd: 0.3);
        int[] prompt = [1, 5, 9];
        var greedy = Generator.Generate(model, prompt, new GenerationOptions(16));
        var nucleus = Generator.Generate(model, prompt, new GenerationOptions(16, Temperature: 1.5, TopP: 1e-6, Seed: 9));
        Assert.Equal(greedy, nucleus);
    }

    [Fact]
    public void SamplerFollowsTheDistribution()
    {
        // logits ln(0.7), ln(0.2), ln(0.1): frequencies near 0.7/0.2/0.1; top-p 0.8 drops the 0.1 token.
        float[] logits = [MathF.Log(0.7f), MathF.Log(0.2f), MathF.Log(0.1f)];
        var counts = new int[3];
        var sampler = new TokenSampler(1.0, null, 1);
        for (int i = 0; i < 20000; i++) counts[sampler.Next(logits)]++;
        Assert.InRange(counts[0] / 20000.0, 0.68, 0.72);
        Assert.InRange(counts[2] / 20000.0, 0.09, 0.11);
        var top = new TokenSampler(1.0, 0.8, 1);
        var seen = Enumerable.Range(0, 2000).Select(_ => top.Next(logits)).ToHashSet();
        Assert.Equal([0, 1], seen.Order());
    }

    [Fact]
    public void ArgMaxTakesTheFirstMaximum()
    {
        Assert.Equal(1, TokenSampler.ArgMax([0f, 3f, 1f, 3f]));
        Assert.Equal(0, TokenSampler.ArgMax([2f, 2f]));
    }

    [Fact]
    public void GenerationNeedsAWholeModelAndAPrompt()
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Gqa, 3);
        Assert.Throws<ArgumentException>(() => Generator.Generate(model, [], new GenerationOptions(4)));
        Assert.Throws<ArgumentException>(() => Generator.Generate(model, [1, 64], new GenerationOptions(4)));
        using var part = LlamaModel.CreateRandom(TinyConfigs.Gqa, 3, new ModelLoadOptions(0, 2));
        Assert.Throws<ArgumentException>(() => Generator.Generate(part, [1], new GenerationOptions(4)));
    }
}
