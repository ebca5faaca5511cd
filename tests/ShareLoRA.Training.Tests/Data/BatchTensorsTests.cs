using ShareLoRA.Training.Data;
using TorchSharp;
using Xunit;

namespace ShareLoRA.Training.Tests.Data;

public sealed class BatchTensorsTests
{
    [Fact]
    public void BatchBecomesInt64TensorsOfItsShape()
    {
        const int I = TokenizedExample.IgnoreIndex;
        var batch = BatchCollator.Collate([new([1, 5, 6], [I, 5, 6]), new([1, 7], [I, 7])], [0, 1], padId: 2);
        using var tensors = BatchTensors.From(batch);
        foreach (var t in new[] { tensors.InputIds, tensors.Labels, tensors.AttentionMask })
        {
            Assert.Equal(torch.ScalarType.Int64, t.dtype);
            Assert.Equal([2L, 3L], t.shape);
        }
        Assert.Equal([1L, 5, 6, 1, 7, 2], tensors.InputIds.data<long>().ToArray());
        Assert.Equal([(long)I, 5, 6, I, 7, I], tensors.Labels.data<long>().ToArray());
        Assert.Equal([1L, 1, 1, 1, 1, 0], tensors.AttentionMask.data<long>().ToArray());
    }
}
