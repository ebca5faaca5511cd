using ShareLoRA.Model.Layers;
using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// The LoRA repo's GPT-2 loss (examples/NLG/src/model.py, GPT2LMModel.forward with label_smooth &gt; 0): per position
/// (1 - eps) * (-log p[target]) + eps * mean over the vocabulary of (-log p), times the loss mask, summed and divided
/// by (mask sum + 0.0001). With eps = 0 it is the masked mean cross-entropy (up to that 0.0001).
/// </summary>
public static class LabelSmoothedLoss
{
    /// <param name="logits">[b, s, vocab] predictions for the next token.</param>
    /// <param name="targets">[b, s] next-token ids (any value where the mask is 0).</param>
    /// <param name="mask">[b, s] 1 where the position counts (completion tokens), 0 elsewhere.</param>
    /// <param name="smoothing">eps (the repo's --label_smooth, 0.1 for E2E).</param>
    public static Tensor Compute(Tensor logits, Tensor targets, Tensor mask, double smoothing)
    {
        using var scope = NewDisposeScope();
        long vocab = logits.shape[^1];
        var logProbs = logits.to_type(ScalarType.Float32).view(-1, vocab).log_softmax(-1);
        var nll = logProbs.gather(-1, targets.to(ScalarType.Int64).view(-1, 1)).squeeze(1).neg();
        var perToken = smoothing > 0.0001
            ? nll.MulScalar(1.0 - smoothing).AddTensor(logProbs.mean([-1L]).neg().MulScalar(smoothing))
            : nll;
        var m = mask.to_type(ScalarType.Float32).view(-1);
        return perToken.mul(m).sum().div(m.sum().AddScalar(0.0001)).MoveToOuterDisposeScope();
    }
}
