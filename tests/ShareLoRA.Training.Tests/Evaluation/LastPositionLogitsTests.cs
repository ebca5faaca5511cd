using ShareLoRA.Training.Evaluation;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Evaluation;

public class LastPositionLogitsTests
{
    [Fact]
    public void Padded_batches_give_each_sequence_its_own_last_position_logits()
    {
        using var model = TinyModel.Create();
        IReadOnlyList<int>[] sequences = [[1, 5, 9, 12, 30], [1, 7], [1, 40, 41, 42, 43, 44, 45, 46], [1]];
        int[] candidates = [10, 11, 12, 13];
        var batched = LastPositionLogits.Compute(model, sequences, candidates, batchSize: 3);
        Assert.Equal(4, batched.Length);
        for (int i = 0; i < sequences.Length; i++)
        {
            // Reference: the whole sequence alone through Forward, the row of its last position.
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var ids = tensor(sequences[i].Select(x => (long)x).ToArray()).view(1, -1);
            var all = model.Forward(ids)[0, -1].data<float>().ToArray();
            var expected = candidates.Select(c => all[c]).ToArray();
            for (int c = 0; c < candidates.Length; c++)
                Assert.Equal(expected[c], batched[i][c], 4);
        }
    }

    [Fact]
    public void Rejects_candidates_outside_the_vocabulary()
    {
        using var model = TinyModel.Create();
        var e = Assert.Throws<ArgumentException>(() => LastPositionLogits.Compute(model, [[1, 2]], [3, 80]));
        Assert.Contains("80", e.Message);
    }
}
