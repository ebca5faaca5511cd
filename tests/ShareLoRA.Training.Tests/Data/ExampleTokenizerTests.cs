using ShareLoRA.Training.Data;
using Xunit;

namespace ShareLoRA.Training.Tests.Data;

public sealed class ExampleTokenizerTests
{
    private const int Ignore = TokenizedExample.IgnoreIndex;
    private static readonly CharTokenizer Tokenizer = new();

    private static int[] Chars(string s) => s.Select(c => c + 3).ToArray();

    [Fact]
    public void AlpacaSourceIsBosPlusPromptTargetIsOutputPlusEosAndOnlyTargetHasLabels()
    {
        var example = new AlpacaExample("Greet.", "", "Hi", "t:1");
        var tokens = new ExampleTokenizer(Tokenizer, 512, 512, trainOnSource: false).Tokenize(example);
        var source = new[] { CharTokenizer.Bos }.Concat(Chars(AlpacaPrompt.Format("Greet.", ""))).ToArray();
        Assert.Equal([.. source, .. Chars("Hi"), CharTokenizer.Eos], tokens.InputIds);
        Assert.Equal([.. Enumerable.Repeat(Ignore, source.Length), .. Chars("Hi"), CharTokenizer.Eos], tokens.Labels);
        Assert.Equal(3, tokens.TargetTokens);
    }

    [Fact]
    public void TrainOnSourceLabelsEveryToken()
    {
        var tokens = new ExampleTokenizer(Tokenizer, 512, 512, trainOnSource: true).Tokenize(new AlpacaExample("a", "b", "c", "t:1"));
        Assert.Equal(tokens.InputIds, tokens.Labels);
    }

    [Fact]
    public void SourceAndTargetAreTruncatedSeparatelyKeepingTheirStart()
    {
        var tokenizer = new ExampleTokenizer(Tokenizer, sourceMaxLen: 5, targetMaxLen: 3, trainOnSource: false);
        var tokens = tokenizer.Tokenize(new AlpacaExample("Greet.", "", "Hello", "t:1"), out var truncated);
        Assert.True(truncated);
        var source = new[] { CharTokenizer.Bos }.Concat(Chars(AlpacaPrompt.Format("Greet.", ""))).Take(5);
        Assert.Equal([.. source, .. Chars("Hel")], tokens.InputIds); // EOS cut with the long output, as in QLoRA
        Assert.Equal([Ignore, Ignore, Ignore, Ignore, Ignore, .. Chars("Hel")], tokens.Labels);

        tokenizer.Tokenize(new AlpacaExample("", "", "ab", "t:1"), out truncated);
        Assert.True(truncated); // the prompt alone is longer than 5
        new ExampleTokenizer(Tokenizer, 512, 3, false).Tokenize(new AlpacaExample("", "", "ab", "t:1"), out truncated);
        Assert.False(truncated); // "ab" + EOS fits exactly
    }

    [Fact]
    public void BosIsPrependedWhenThePostProcessorAddsNone()
    {
        var tokens = new ExampleTokenizer(new CharTokenizer(addsBos: false), 512, 512, false).Tokenize(new AlpacaExample("x", "", "y", "t:1"));
        Assert.Equal(CharTokenizer.Bos, tokens.InputIds[0]);
        Assert.Equal(1, tokens.InputIds.Count(i => i == CharTokenizer.Bos));
    }

    [Fact]
    public void TextIsBosTextEosAllTargetTruncatedToTheSumOfBothLimits()
    {
        var tokenizer = new ExampleTokenizer(Tokenizer, 3, 2, false);
        var tokens = tokenizer.Tokenize(new TextExample("ab", "t:1"), out var truncated);
        Assert.False(truncated);
        Assert.Equal([CharTokenizer.Bos, .. Chars("ab"), CharTokenizer.Eos], tokens.InputIds);
        Assert.Equal(tokens.InputIds, tokens.Labels);
        tokens = tokenizer.Tokenize(new TextExample("abcdef", "t:1"), out truncated);
        Assert.True(truncated);
        Assert.Equal([CharTokenizer.Bos, .. Chars("abcd")], tokens.InputIds);
    }

    [Fact]
    public void TokenizerWithoutEosIsRefused()
    {
        var e = Assert.Throws<DatasetException>(() => new ExampleTokenizer(new CharTokenizer(eosId: null), 8, 8, false));
        Assert.Contains("no EOS token", e.Message);
    }
}
