using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>A <see cref="LlamaModel"/> layer range as a pipeline stage's model part: causal LM loss with the usual shift.</summary>
public sealed class LlamaStageModel(LlamaModel model) : LayerRangeStageModel<LlamaModel>(model), IStageModel
{
    public IReadOnlyList<(string Name, Tensor Value)> TrainableHead => [];

    public Tensor Embed(Tensor inputIds) => Model.Embed(inputIds);

    public Tensor ForwardLayers(Tensor hidden, Tensor attentionMask, IModelAdapters adapters) =>
        Model.ForwardLayers(hidden, 0, null, adapters, attentionMask);

    public (Tensor LossSum, long Count) LossSum(Tensor hidden, Tensor labels) => CausalLmLoss.Sum(Model.Logits(hidden), labels);
}
