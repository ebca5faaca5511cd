using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// The adapter of one decoder layer as the model sees it: for a target module and that module's input,
/// the additive update to its output (s * B A drop(x) for LoRA-family adapters), or null when the module is not adapted.
/// The model never knows whether the matrices behind it are shared across layers.
/// </summary>
public interface ILayerAdapter
{
    /// <param name="module">Which linear map of the layer.</param>
    /// <param name="input">The module's input, [..., d_in].</param>
    /// <returns>[..., d_out] to add to the frozen module's output, or null.</returns>
    Tensor? Delta(TargetModule module, Tensor input);
}

/// <summary>Supplies the adapter of each decoder layer by its global layer index (0-based over the whole model).</summary>
public interface IModelAdapters
{
    ILayerAdapter? ForLayer(int layerIndex);
}
