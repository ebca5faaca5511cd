using ShareLoRA.Model.Generation;
using ShareLoRA.Model.Llama;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Model.Tests.Generation;

/// <summary>stories260K greedy continuations must equal llama2.c run.c's, token for token.</summary>
public class GoldenGenerationTests
{
    [SkippableTheory]
    [MemberData(nameof(Goldens.GreedyCaseNames), MemberType = typeof(Goldens))]
    public void GreedyMatchesLlama2cWithAndWithoutKvCache(string name)
    {
        var dir = SharedAssets.Stories260K;
        var golden = Goldens.Greedy().Single(c => c.Name == name);
        using var model = LlamaModel.Load(dir, new ModelLoadOptions());
        var cached = Generator.Generate(model, golden.PromptIds, new GenerationOptions(golden.GreedyIds.Length, UseKvCache: true));
        Assert.Equal(golden.GreedyIds, cached);
        var uncached = Generator.Generate(model, golden.PromptIds, new GenerationOptions(golden.GreedyIds.Length, UseKvCache: false));
        Assert.Equal(golden.GreedyIds, uncached);
    }

    [SkippableFact]
    public void StopTokenEndsGenerationAndIsIncluded()
    {
        var golden = Goldens.Greedy()[0];
        using var model = LlamaModel.Load(SharedAssets.Stories260K, new ModelLoadOptions());
        int stopAt = golden.GreedyIds[5];
        var ids = Generator.Generate(model, golden.PromptIds, new GenerationOptions(64, StopTokenIds: [stopAt]));
        int first = Array.IndexOf(golden.GreedyIds, stopAt);
        Assert.Equal(golden.GreedyIds.Take(first + 1), ids);
    }
}
