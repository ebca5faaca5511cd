using static TorchSharp.torch;

namespace ShareLoRA.Model;

/// <summary>
/// A model part of any family seen from outside: which layers [FirstLayer, EndLayer) it holds, whether it holds the
/// embedding and the head, its dtype and device. Implemented by <see cref="LayerRangeModel{TConfig, TEmbedding, TLayer, THead}"/>;
/// lets code above the model (pipeline stages) forward to a part without knowing its family.
/// </summary>
public interface ILayerRangeModel : IDisposable
{
    int FirstLayer { get; }
    int EndLayer { get; }
    bool HasEmbedding { get; }
    bool HasHead { get; }

    /// <summary>Dtype of the frozen weights and of the computation (hidden states pass between parts in it).</summary>
    ScalarType DType { get; }
    Device Device { get; }

    /// <summary>Freezes every base weight (a trainable head stays trainable).</summary>
    void Freeze();
}
