using ShareLoRA.Model.Tokenization;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Model.Tests.Tokenization;

/// <summary>GPT-2 and RoBERTa tokenizers built in memory from vocab.json + merges.txt and run by the Rust library.</summary>
public class ByteLevelBpeTests
{
    private const string Fox = "The quick brown fox jumps over the lazy dog.";

    [SkippableFact]
    public void Gpt2FromVocabAndMergesGivesOpenAiIds()
    {
        using var tok = ByteLevelBpe.Load(SharedAssets.RequireDirectory("tokenizers/gpt2"), ByteLevelBpeStyle.Gpt2);
        Assert.Equal([15496, 995], tok.Encode("Hello world"));
        Assert.Equal([464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13], tok.Encode(Fox));
        Assert.Equal(50257, tok.VocabSize);
        Assert.Equal(50256, tok.BosId);
        Assert.Equal(50256, tok.EosId);
        Assert.Null(tok.PadId);
        Assert.Equal("Hello world", tok.Decode([15496, 995]));
        Assert.Equal("Hello world<|endoftext|>", tok.Decode([15496, 995, 50256], skipSpecialTokens: false));
    }

    [SkippableFact]
    public void Gpt2GeneratedTokenizerAgreesWithTheShippedTokenizerJson()
    {
        var dir = SharedAssets.RequireDirectory("tokenizers/gpt2");
        using var generated = ByteLevelBpe.Load(dir, ByteLevelBpeStyle.Gpt2);
        using var shipped = HfTokenizer.Load(Path.Combine(dir, "tokenizer.json"));
        string[] texts = [Fox, "  leading spaces\tand\ttabs\n\nnewlines", "Ünïcödé — “quotes” 日本語 😀", "it's 2024; x=3.14, don't!", "<|endoftext|>after"];
        foreach (var text in texts)
        {
            Assert.Equal(shipped.Encode(text), generated.Encode(text));
            Assert.Equal(text, generated.Decode(generated.Encode(text), skipSpecialTokens: false));
        }
    }

    [SkippableFact]
    public void RobertaAddsSpecialTokensAndRoundTrips()
    {
        var dir = SharedAssets.RequireDirectory("tokenizers/roberta-base");
        using var tok = HfTokenizer.Load(dir);   // no tokenizer.json there: built from vocab.json + merges.txt, style inferred
        Assert.Equal([0, 31414, 232, 2], tok.Encode("Hello world"));
        Assert.Equal([31414, 232], tok.Encode("Hello world", addSpecialTokens: false));
        Assert.Equal(50265, tok.VocabSize);
        Assert.Equal((0, 2, 1), (tok.BosId, tok.EosId, tok.PadId));
        Assert.Equal("Hello world", tok.Decode([0, 31414, 232, 2]));
        Assert.Equal("<s>Hello world</s>", tok.Decode([0, 31414, 232, 2], skipSpecialTokens: false));
        foreach (var text in new[] { Fox, "Ünïcödé — 日本語 😀, it's fine.", "  two  spaces" })
            Assert.Equal(text, tok.Decode(tok.Encode(text)));
        Assert.Equal(50264, tok.AddedTokenId("<mask>"));
    }

    [SkippableFact]
    public void RobertaIdsAreGpt2TokensRenumbered()
    {
        // Same BPE, different numbering: every token of a text maps to the same string in both vocabularies.
        using var gpt2 = ByteLevelBpe.Load(SharedAssets.RequireDirectory("tokenizers/gpt2"));
        using var roberta = ByteLevelBpe.Load(SharedAssets.RequireDirectory("tokenizers/roberta-base"));
        var g = gpt2.Encode(Fox);
        var r = roberta.Encode(Fox, addSpecialTokens: false);
        Assert.Equal(g.Count, r.Count);
        for (int i = 0; i < g.Count; i++) Assert.Equal(gpt2.Decode([g[i]]), roberta.Decode([r[i]]));
    }

    [Fact]
    public void BadMergeLineIsNamedWithItsLine()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("vocab.json"), """{"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3}""");
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\na b\nab\n");
        var e = Assert.Throws<InvalidDataException>(() => ByteLevelBpe.Load(dir.Path));
        Assert.StartsWith(dir.File("merges.txt") + ":3:", e.Message);
    }

    [Fact]
    public void TinyGeneratedVocabularyLoadsInTheRustLibrary()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("vocab.json"), """{"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4, "<|endoftext|>": 5}""");
        File.WriteAllText(dir.File("merges.txt"), "#version: 0.2\na b\nĠ ab\n");
        using var tok = HfTokenizer.Load(dir.Path);
        Assert.Equal([2, 4, 0], tok.Encode("ab aba"));
        Assert.Equal("ab aba", tok.Decode([2, 4, 0]));
    }
}
