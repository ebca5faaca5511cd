namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// File names the trainer and the coordinator agree on inside a checkpoint folder. The store itself accepts any simple
/// file name; these are the conventional ones.
/// </summary>
public static class CheckpointFiles
{
    /// <summary>The manifest, written last: its presence and checksums are what make a checkpoint valid.</summary>
    public const string Manifest = "manifest.json";

    /// <summary>Every adapter tensor under its bank name ("shared.q.A", "layers.3.q.B").</summary>
    public const string Adapter = "adapter.safetensors";

    /// <summary>AdamW state of the per-layer adapter tensors (see <see cref="AdamWStateTensors"/>).</summary>
    public const string Optimizer = "optimizer.safetensors";

    /// <summary>AdamW state of the shared adapter tensors, stepped by the coordinator.</summary>
    public const string SharedOptimizer = "shared_optimizer.safetensors";
}
