using ShareLoRA.Model.Adapters;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// A stage's checkpointable state: the values of its per-layer adapter tensors and their AdamW state, by bank name
/// ("layers.3.q.B"), and on a stage with a trainable head (RoBERTa's classifier) the head's, named "head.*". Shared tensors are not here: their master copy and optimizer state belong to the
/// <see cref="SharedParameterServer"/>. Independent copies; the holder disposes them.
/// </summary>
public sealed record StageState(IReadOnlyDictionary<string, Tensor> Values, IReadOnlyDictionary<string, AdamWParameterState> Optimizer)
    : IDisposable
{
    public void Dispose()
    {
        foreach (var t in Values.Values) t.Dispose();
        foreach (var s in Optimizer.Values) s.Dispose();
    }
}
