using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>A <see cref="LlamaModel"/> layer range as a pipeline stage's model part: causal LM loss with the usual shift.</summary>
public sealed class LlamaStageModel(LlamaModel model) : IStageModel
{
    public LlamaModel Model { get; } = model;
    public int FirstLayer => Model.FirstLayer;
    public int EndLayer => Model.EndLayer;
    public bool HasEmbedding => Model.HasEmbedding;
    public bool HasHead => Model.HasHead;
    public ScalarType DType => Model.DType;
    public Device Device => Model.Device;
    public IReadOnlyList<(string Name, Tensor Value)> TrainableHead => [];

    public Tensor Embed(Tensor inputIds) => Model.Embed(inputIds);

    public Tensor ForwardLayers(Tensor hidden, Tensor attentionMask, IModelAdapters adapters) =>
        Model.ForwardLayers(hidden, 0, null, adapters, attentionMask);

    public (Tensor LossSum, long Count) LossSum(Tensor hidden, Tensor labels) => CausalLmLoss.Sum(Model.Logits(hidden), labels);

    public void Freeze() => Model.Freeze();

    public void Dispose() => Model.Dispose();
}
