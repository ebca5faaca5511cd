using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Roberta;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// A <see cref="RobertaModel"/> encoder-layer range as a pipeline stage's model part: embeddings on the first stage,
/// bidirectional layers with the padding mask, and on the last stage the classification head on the &lt;s&gt; token.
/// The loss is one term per sequence: cross-entropy against class ids [b], or squared error against float scores [b]
/// when num_labels is 1 (STS-B), so sum / batch rows is HF's mean loss. The head trains fully: its four tensors are
/// the last stage's <see cref="TrainableHead"/>, named "head." + their HF names.
/// </summary>
public sealed class RobertaStageModel : LayerRangeStageModel<RobertaModel>, IStageModel
{
    /// <summary>Prefix of the head tensors' names in stage state and checkpoints ("head.classifier.dense.weight").</summary>
    public const string HeadPrefix = "head.";

    public RobertaStageModel(RobertaModel model) : base(model)
    {
        TrainableHead = model.HeadParameters().Select(p => (HeadPrefix + p.Key, (Tensor)p.Value)).ToList();
    }

    public IReadOnlyList<(string Name, Tensor Value)> TrainableHead { get; }

    public Tensor Embed(Tensor inputIds) => Model.Embed(inputIds);

    public Tensor ForwardLayers(Tensor hidden, Tensor attentionMask, IModelAdapters adapters) =>
        Model.ForwardLayers(hidden, attentionMask, adapters);

    public (Tensor LossSum, long Count) LossSum(Tensor hidden, Tensor labels)
    {
        var logits = Model.Logits(hidden);                                   // [b, labels], fp32
        long rows = logits.shape[0];
        if (labels.numel() != rows)
            throw new ArgumentException($"RoBERTa labels must hold one value per sequence ([{rows}]); got [{string.Join(", ", labels.shape)}]");
        int numLabels = Model.Config.NumLabels;
        var loss = numLabels == 1
            ? mse_loss(logits.view(-1), labels.to(logits.dtype, logits.device).view(-1), reduction: nn.Reduction.Sum)
            : cross_entropy(logits.view(-1, numLabels), labels.to(ScalarType.Int64, logits.device).view(-1), reduction: nn.Reduction.Sum);
        return (loss, rows);
    }
}
