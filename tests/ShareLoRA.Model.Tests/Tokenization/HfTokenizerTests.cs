using ShareLoRA.Model.Tokenization;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Model.Tests.Tokenization;

/// <summary>HfTokenizer on a Llama-2 style file (stories260K, byte fallback) and a byte-level BPE file (GPT-2).</summary>
public class HfTokenizerTests
{
    [SkippableFact]
    public void Stories260KGivesLlama2cIdsOnAllTokenizationCases()
    {
        using var tok = HfTokenizer.Load(SharedAssets.Stories260K);
        var cases = Goldens.Tokenization();
        Assert.Equal(39, cases.Count);
        foreach (var c in cases)
            Assert.True(c.Ids.SequenceEqual(tok.Encode(c.Text)), $"text {System.Text.Json.JsonSerializer.Serialize(c.Text)}: expected [{string.Join(",", c.Ids)}] got [{string.Join(",", tok.Encode(c.Text))}]");
    }

    [SkippableFact]
    public void Stories260KGivesTheGoldenPromptIds()
    {
        using var tok = HfTokenizer.Load(SharedAssets.Stories260K);
        foreach (var c in Goldens.Greedy())
            Assert.Equal(c.PromptIds, tok.Encode(c.Prompt));
    }

    [SkippableFact]
    public void Stories260KSpecialTokensAndDecoding()
    {
        using var tok = HfTokenizer.Load(Path.Combine(SharedAssets.Stories260K, "tokenizer.json"));
        Assert.Equal(1, tok.BosId);
        Assert.Equal(2, tok.EosId);
        Assert.Null(tok.PadId);
        Assert.Equal(512, tok.VocabSize);
        Assert.Equal([403, 407, 261, 378], tok.Encode("Once upon a time", addSpecialTokens: false));
        var golden = Goldens.Greedy()[0];
        Assert.Equal(golden.TextWithPrompt, tok.Decode(golden.PromptIds.Concat(golden.GreedyIds).ToArray()));
        Assert.Equal("Once upon a time", tok.Decode([1, 403, 407, 261, 378, 2]));
        Assert.Equal("<s> Once upon a time</s>", tok.Decode([1, 403, 407, 261, 378, 2], skipSpecialTokens: false));
    }

    [SkippableFact]
    public void Gpt2ByteLevelBpe()
    {
        using var tok = HfTokenizer.Load(Path.Combine(SharedAssets.RequireDirectory("tokenizers/gpt2"), "tokenizer.json"));
        Assert.Equal([15496, 995], tok.Encode("Hello world"));
        Assert.Equal([464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13], tok.Encode("The quick brown fox jumps over the lazy dog."));
        Assert.Equal(50257, tok.VocabSize);
        Assert.Equal("Hello world", tok.Decode([15496, 995]));
        Assert.Equal("Hello world<|endoftext|>", tok.Decode([15496, 995, 50256], skipSpecialTokens: false));
        Assert.Equal("Hello world", tok.Decode([15496, 995, 50256]));
    }

    [SkippableFact]
    public void MissingFileNamesThePath()
    {
        var e = Assert.Throws<FileNotFoundException>(() => HfTokenizer.Load("/nonexistent/dir/tokenizer.json"));
        Assert.Contains("/nonexistent/dir/tokenizer.json", e.Message);
    }
}
