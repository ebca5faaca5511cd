using static TorchSharp.torch;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>A <see cref="CheckpointContent"/> with the tensor handles it was built from; dispose after saving.</summary>
public sealed class OwnedCheckpointContent(CheckpointContent content, IReadOnlyList<Tensor> owned) : IDisposable
{
    public CheckpointContent Content { get; } = content;

    public void Dispose()
    {
        foreach (var t in owned) t.Dispose();
    }
}
