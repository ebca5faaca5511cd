using MessagePack;

namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// One bounded part of a stage's training state on the wire (see <see cref="StageStateWire"/>): fp32 tensors by name
/// (per-layer values, "NAME.exp_avg" / "NAME.exp_avg_sq" moments, and on a restore the "shared.*" values) and the
/// AdamW step counts by parameter name (integers do not fit a <see cref="TensorPayload"/>).
/// </summary>
[MessagePackObject]
public sealed record StatePart(
    [property: Key(0)] Dictionary<string, TensorPayload> Tensors,
    [property: Key(1)] Dictionary<string, long> Steps);
