using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// A <see cref="Gpt2Model"/> block range as a pipeline stage's model part: learned positions on the first stage,
/// pre-LN blocks, ln_f + tied head on the last, causal LM loss with the same label shift as Llama, optionally
/// label-smoothed in training as the LoRA repo trains E2E (eps 0.1); the evaluation loss is never smoothed.
/// </summary>
public sealed class Gpt2StageModel(Gpt2Model model, double labelSmoothing = 0.0) : LayerRangeStageModel<Gpt2Model>(model), IStageModel
{
    /// <summary>eps of the label-smoothed loss (0 = plain cross-entropy).</summary>
    public double LabelSmoothing { get; } = labelSmoothing is >= 0 and < 1 ? labelSmoothing
        : throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"label smoothing must be in [0, 1) (got {labelSmoothing})");

    public IReadOnlyList<(string Name, Tensor Value)> TrainableHead => [];

    // Training sequences start at position 0 (no cache), so positions 0..s-1.
    public Tensor Embed(Tensor inputIds) => Model.Embed(inputIds);

    public Tensor ForwardLayers(Tensor hidden, Tensor attentionMask, IModelAdapters adapters) =>
        Model.ForwardLayers(hidden, 0, null, adapters, attentionMask);

    public (Tensor LossSum, long Count) LossSum(Tensor hidden, Tensor labels) =>
        CausalLmLoss.Sum(Model.Logits(hidden), labels, LabelSmoothing);

    /// <summary>Unsmoothed: the evaluation loss is plain cross-entropy whatever the training's eps.</summary>
    public (Tensor LossSum, long Count, float[]? RowPredictions) EvalHead(Tensor hidden, Tensor labels)
    {
        var (loss, count) = CausalLmLoss.Sum(Model.Logits(hidden), labels);
        return (loss, count, null);
    }
}
