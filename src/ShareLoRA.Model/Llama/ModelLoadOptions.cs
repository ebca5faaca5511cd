using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>
/// Which part of a model to build and where: decoder layers [FirstLayer, EndLayer) (EndLayer null = all),
/// with or without the token embedding and the head (final norm + lm_head), in DType on Device.
/// </summary>
public sealed record ModelLoadOptions(
    int FirstLayer = 0,
    int? EndLayer = null,
    bool IncludeEmbedding = true,
    bool IncludeHead = true,
    ScalarType DType = ScalarType.Float32,
    string Device = "cpu");
