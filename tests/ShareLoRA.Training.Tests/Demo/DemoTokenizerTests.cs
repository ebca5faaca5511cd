using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Demo;

using Xunit;

namespace ShareLoRA.Training.Tests.Demo;

public sealed class DemoTokenizerTests(DemoAssetsFixture assets) : IClassFixture<DemoAssetsFixture>
{
    public static TheoryData<string> Texts() => new()
    {
        "Reverse the word.",
        "Hello, world! 12 + 7 = 19 {braces} [brackets] <angle> ~tilde~ back\\slash \"quotes\"",
        "café naïve façade Ångström",
        "日本語のテキスト 中文 한국어",
        "emoji 😀🚀 and a family 👨‍👩‍👧",
        "line one\nline two\ttabbed\r\n  leading and trailing spaces  ",
        " ",
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\nSort the letters.\n\n### Response: ",
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Round_trips_any_text_through_HfTokenizer(string text)
    {
        using var tokenizer = HfTokenizer.Load(assets.Paths.ModelDirectory);
        var ids = tokenizer.Encode(text, addSpecialTokens: false);
        Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
        Assert.DoesNotContain(DemoTokenizer.UnkId, ids);
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void Finds_bos_and_eos_and_adds_bos_like_llama2()
    {
        using var tokenizer = HfTokenizer.Load(assets.Paths.ModelDirectory);
        Assert.Equal(DemoTokenizer.BosId, tokenizer.BosId);
        Assert.Equal(DemoTokenizer.EosId, tokenizer.EosId);
        Assert.Equal(assets.Paths.VocabSize, tokenizer.VocabSize);

        var withSpecials = tokenizer.Encode("stone");
        var plain = tokenizer.Encode("stone", addSpecialTokens: false);
        Assert.Equal([DemoTokenizer.BosId, .. plain], withSpecials);
        Assert.Equal("stone", tokenizer.Decode(withSpecials));
    }

    [Fact]
    public void Falls_back_to_utf8_byte_tokens_for_characters_without_a_token()
    {
        using var tokenizer = HfTokenizer.Load(assets.Paths.ModelDirectory);
        // "é" is C3 A9 in UTF-8; byte b has id 3 + b.
        Assert.Equal([DemoTokenizer.FirstByteId + 0xC3, DemoTokenizer.FirstByteId + 0xA9], tokenizer.Encode("é", addSpecialTokens: false));
    }

    [Fact]
    public void Learned_merges_keep_demo_sequences_short()
    {
        using var tokenizer = HfTokenizer.Load(assets.Paths.ModelDirectory);
        var prompt = ShareLoRA.Training.Data.AlpacaPrompt.Format("Repeat the word three times.", "horse") + "horse horse horse";
        Assert.True(tokenizer.Encode(prompt).Count < 64, "a demo record should tokenize to under 64 tokens");
    }

    [Fact]
    public void Merge_trainer_merges_the_most_frequent_pair_first_and_breaks_ties_by_ordinal_order()
    {
        var merges = BpeMergeTrainer.Train(["abab", "abab", "cdcd"], new HashSet<char>("abcd"), 10);
        Assert.Equal(("a", "b"), merges[0]);   // 4 occurrences
        Assert.Equal(("ab", "ab"), merges[1]); // 2 occurrences, and ("ab","ab") < ("c","d") ordinally
    }
}
