using ShareLoRA.Model;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// The members of <see cref="IStageModel"/> that only forward to the stage's model part: the <see cref="ILayerRangeModel"/>
/// it extends (layer range, embedding and head flags, dtype, device, Freeze, Dispose), written once. A family's stage
/// model derives from it, names IStageModel itself and adds what differs by family: Embed, ForwardLayers, LossSum and
/// TrainableHead.
/// </summary>
/// <remarks>
/// Deliberately not an IStageModel with abstract members: the family classes then keep their family-specific members
/// exactly as written (no override keywords), which keeps this a small, mechanical change to them.
/// </remarks>
public abstract class LayerRangeStageModel<TModel>(TModel model) : ILayerRangeModel where TModel : ILayerRangeModel
{
    /// <summary>The model part; owned (disposed with this stage model).</summary>
    public TModel Model { get; } = model;
    public int FirstLayer => Model.FirstLayer;
    public int EndLayer => Model.EndLayer;
    public bool HasEmbedding => Model.HasEmbedding;
    public bool HasHead => Model.HasHead;
    public ScalarType DType => Model.DType;
    public Device Device => Model.Device;

    public void Freeze() => Model.Freeze();

    public void Dispose() => Model.Dispose();
}
