using ShareLoRA.Training.Data;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// Everything one checkpoint holds, as the caller hands it to <see cref="CheckpointStore.Save"/>. The tensors stay the
/// caller's: the store copies each to CPU while writing and keeps no reference once Save returns.
/// </summary>
/// <param name="Step">Optimizer steps completed (>= 0).</param>
/// <param name="DataCursor">Where data reading continues.</param>
/// <param name="Rng">Randomness state (run seed and step suffice: randomness is counter-based).</param>
/// <param name="JobJson">The job as <see cref="Jobs.JobConfig.ToJson"/> gives it; must be a JSON object.</param>
/// <param name="Plan">The partition the run used.</param>
/// <param name="Metrics">Loss figures at this step.</param>
/// <param name="TensorFiles">
/// File name (a simple name such as <see cref="CheckpointFiles.Adapter"/>) to its named tensors, written in the
/// dictionary's order. Floating tensors narrower than fp32 are widened to fp32 (lossless); fp32, fp64 and integer
/// tensors are written as they are.
/// </param>
public sealed record CheckpointContent(
    long Step,
    DataCursor DataCursor,
    CheckpointRngState Rng,
    string JobJson,
    CheckpointPlan Plan,
    CheckpointMetrics Metrics,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, Tensor>> TensorFiles);
