using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>
/// Supplies one base weight by its Hugging Face name and expected shape (from a checkpoint, or random for tests).
/// The returned tensor is owned by the caller.
/// </summary>
public delegate Tensor WeightSource(string hfName, long[] shape);
