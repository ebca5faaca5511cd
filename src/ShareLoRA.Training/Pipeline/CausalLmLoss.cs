using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// The causal-LM loss every decoder family's last stage uses: position i's logits predict label i + 1 (labels come
/// unshifted, -100 = no loss), summed over the counted positions and computed in fp32.
/// </summary>
public static class CausalLmLoss
{
    /// <param name="logits">[b, s, vocab].</param>
    /// <param name="labels">[b, s] unshifted; -100 where no loss is taken.</param>
    /// <param name="labelSmoothing">eps: (1 - eps) * NLL + eps * mean over the vocabulary of -log p, per counted
    /// position (torch's label_smoothing, which is the LoRA repo's GPT-2 formula). 0 = plain cross-entropy.</param>
    public static (Tensor LossSum, long Count) Sum(Tensor logits, Tensor labels, double labelSmoothing = 0.0)
    {
        long s = logits.shape[1], vocab = logits.shape[2];
        var predicting = logits.narrow(1, 0, s - 1).reshape(-1, vocab);        // [b*(s-1), V]
        if (predicting.dtype != ScalarType.Float32 && predicting.dtype != ScalarType.Float64)
            predicting = predicting.to_type(ScalarType.Float32);
        var next = labels.to(ScalarType.Int64, logits.device).narrow(1, 1, s - 1).reshape(-1);  // [b*(s-1)]
        var loss = nn.functional.cross_entropy(predicting, next, ignore_index: -100, reduction: nn.Reduction.Sum,
            label_smoothing: labelSmoothing);
        using var ignore = (-100).ToScalar();
        long targets = next.ne(ignore).sum().item<long>();
        return (loss, targets);
    }
}
