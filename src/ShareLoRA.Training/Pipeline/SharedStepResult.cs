using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// The outcome of one <see cref="SharedParameterServer.Step"/>: the new shared values to broadcast to every stage
/// (copies the holder disposes), the clip coefficient every stage applies to its own gradients, and the global
/// gradient norm before clipping (shared tensors counted once, plus every stage's local gradients).
/// </summary>
public sealed record SharedStepResult(IReadOnlyDictionary<string, Tensor> Values, double ClipCoefficient, double GradNorm) : IDisposable
{
    public void Dispose()
    {
        foreach (var t in Values.Values) t.Dispose();
    }
}
