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
        return (Loss(logits, labels), logits.shape[0]);
    }

    /// <summary>
    /// The loss sum and the rows' predictions from the same fp32 logits: the predicted score for regression
    /// (num_labels 1), else the argmax class id as a float. Ties go to the lowest class id, as torch.argmax (and so
    /// `sharelora glue`) picks the first maximal value.
    /// </summary>
    public (Tensor LossSum, long Count, float[]? RowPredictions) EvalHead(Tensor hidden, Tensor labels)
    {
        var logits = Model.Logits(hidden).to_type(ScalarType.Float32);       // [b, labels]
        return (Loss(logits, labels), logits.shape[0], RowPredictions(logits));
    }

    /// <summary>[b, num_labels] fp32 logits -> one prediction per row (score, or argmax class id with ties to the lowest).</summary>
    public static float[] RowPredictions(Tensor logits)
    {
        using var scope = NewDisposeScope();
        return logits.shape[1] == 1
            ? logits.view(-1).to_type(ScalarType.Float32).data<float>().ToArray()
            : logits.argmax(1).to_type(ScalarType.Float32).data<float>().ToArray();
    }

    private Tensor Loss(Tensor logits, Tensor labels)
    {
        long rows = logits.shape[0];
        if (labels.numel() != rows)
            throw new ArgumentException($"RoBERTa labels must hold one value per sequence ([{rows}]); got [{string.Join(", ", labels.shape)}]");
        int numLabels = Model.Config.NumLabels;
        return numLabels == 1
            ? mse_loss(logits.view(-1), labels.to(logits.dtype, logits.device).view(-1), reduction: nn.Reduction.Sum)
            : cross_entropy(logits.view(-1, numLabels), labels.to(ScalarType.Int64, logits.device).view(-1), reduction: nn.Reduction.Sum);
    }
}
