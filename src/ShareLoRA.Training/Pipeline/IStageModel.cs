using ShareLoRA.Model;
using ShareLoRA.Model.Adapters;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// What a <see cref="PipelineStage"/> needs of its model part, whatever the family: a contiguous range of transformer
/// layers [FirstLayer, EndLayer), the embedding when it is the first stage, the head and the loss when it is the last.
/// Llama, GPT-2 (<see cref="Gpt2StageModel"/>) and RoBERTa (<see cref="RobertaStageModel"/>) implement it; the stage
/// drives any of them the same way. The model part owns its base weights and disposes them. Its layer range, embedding
/// and head flags, dtype (the dtype activations are passed between stages in), device, Freeze and Dispose are those
/// of <see cref="ILayerRangeModel"/>.
/// </summary>
public interface IStageModel : ILayerRangeModel
{
    /// <summary>[b, s] token ids -> [b, s, h]. Only on the part that has the embedding.</summary>
    Tensor Embed(Tensor inputIds);

    /// <summary>Runs the layers on hidden [b, s, h] with the [b, s] 1/0 padding mask (causal or not as the family is).</summary>
    Tensor ForwardLayers(Tensor hidden, Tensor attentionMask, IModelAdapters adapters);

    /// <summary>
    /// The head and the SUMMED loss of one micro-batch (not its mean), with the number of terms in the sum, so a step's
    /// loss is the sum over micro-batches divided by the step's total count. Only on the part that has the head.
    /// </summary>
    (Tensor LossSum, long Count) LossSum(Tensor hidden, Tensor labels);

    /// <summary>
    /// The evaluation head (what <see cref="PipelineStage.ForwardEval"/> reports): the plain objective without
    /// training-only terms (GPT-2's label smoothing, as the LoRA repo's evaluate() and E2eTrainer's validation loss)
    /// and, for a sequence-level head, one prediction per row computed in fp32 from the same logits (the predicted class
    /// id as a whole number, or the predicted score for regression); null predictions for token-level heads, whose
    /// logits never leave the stage. <see cref="LossSum"/> unless a family overrides it. Only on the part that has the head.
    /// </summary>
    (Tensor LossSum, long Count, float[]? RowPredictions) EvalHead(Tensor hidden, Tensor labels)
    {
        var (loss, count) = LossSum(hidden, labels);
        return (loss, count, null);
    }

    /// <summary>
    /// Head tensors that train fully beside the adapters (RoBERTa's classifier on the last stage), under stable names;
    /// empty when the head is frozen or absent.
    /// </summary>
    IReadOnlyList<(string Name, Tensor Value)> TrainableHead { get; }
}
