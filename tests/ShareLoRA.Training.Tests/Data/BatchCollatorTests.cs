using ShareLoRA.Training.Data;
using Xunit;

namespace ShareLoRA.Training.Tests.Data;

public sealed class BatchCollatorTests
{
    private const int I = TokenizedExample.IgnoreIndex;

    private static readonly TokenizedExample[] Examples =
    [
        new([1, 10, 11, 2], [I, I, 11, 2]),
        new([1, 20], [I, 20]),
        new([1, 30, 31], [I, 31, 2]),
    ];

    [Fact]
    public void PadsRightWithPadIdMasksPadsAndIgnoresTheirLabels()
    {
        var batch = BatchCollator.Collate(Examples, [1, 0, 2], padId: 0);
        Assert.Equal((3, 4), (batch.Rows, batch.Columns));
        Assert.Equal([1, 20, 0, 0, /**/ 1, 10, 11, 2, /**/ 1, 30, 31, 0], batch.InputIds);
        Assert.Equal([I, 20, I, I, /**/ I, I, 11, 2, /**/ I, 31, 2, I], batch.Labels);
        Assert.Equal([1, 1, 0, 0, /**/ 1, 1, 1, 1, /**/ 1, 1, 1, 0], batch.AttentionMask);
        Assert.Equal([1, 0, 2], batch.ExampleIndices);
        Assert.Equal(5, batch.TargetTokens);
        Assert.Equal(9, batch.Tokens);
        Assert.Equal([1, 30, 31, 0], batch.InputRow(2).ToArray());
    }

    [Fact]
    public void PadIdIsPadElseEosElseZero()
    {
        Assert.Equal(7, BatchCollator.PadIdOf(new CharTokenizer(padId: 7)));
        Assert.Equal(CharTokenizer.Eos, BatchCollator.PadIdOf(new CharTokenizer()));
        Assert.Equal(0, BatchCollator.PadIdOf(new CharTokenizer(eosId: null)));
        var batch = BatchCollator.Collate(Examples, [1, 0], BatchCollator.PadIdOf(new CharTokenizer()));
        Assert.Equal([1, 20, 2, 2], batch.InputRow(0).ToArray());
    }
}
