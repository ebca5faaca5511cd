using ShareLoRA.Training.Evaluation;
using Xunit;

namespace ShareLoRA.Training.Tests.Evaluation;

public class PromptIdsTests
{
    private static readonly AlphabetTokenizer Tokenizer = new();

    [Fact]
    public void Bos_then_the_prompt_without_special_tokens()
    {
        var ids = PromptIds.Build(Tokenizer, "ab", 10, out bool truncated);
        Assert.False(truncated);
        Assert.Equal([AlphabetTokenizer.Bos, AlphabetTokenizer.Id('a'), AlphabetTokenizer.Id('b')], ids);
    }

    [Fact]
    public void Long_prompts_lose_their_oldest_tokens_but_keep_bos()
    {
        var ids = PromptIds.Build(Tokenizer, "abcdefAnswer:", 8, out bool truncated);
        Assert.True(truncated);
        Assert.Equal(8, ids.Count);
        Assert.Equal(AlphabetTokenizer.Bos, ids[0]);
        Assert.Equal("Answer:", Tokenizer.Decode(ids));
    }
}
