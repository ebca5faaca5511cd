using MessagePack;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>Which way a tensor flows between neighbouring stages.</summary>
public enum ActivationDirection : byte
{
    /// <summary>Activations, stage i to stage i+1.</summary>
    Forward = 0,

    /// <summary>Activation gradients, stage i+1 to stage i.</summary>
    Backward = 1,

    /// <summary>Activations of a forward-only evaluation, stage i to stage i+1 (step = the steps done when it runs,
    /// micro-batch = the eval batch's index): never equal to a training tag, whatever the eval set's size.</summary>
    Eval = 2,
}

/// <summary>Identifies one tensor on a link: training step, micro-batch and direction (or an evaluation's step and
/// batch with <see cref="ActivationDirection.Eval"/>). At most one tensor per tag.</summary>
[MessagePackObject]
public readonly record struct ActivationTag(
    [property: Key(0)] long Step,
    [property: Key(1)] int MicroBatch,
    [property: Key(2)] ActivationDirection Direction)
{
    public override string ToString() => $"step {Step} mb {MicroBatch} {Direction.ToString().ToLowerInvariant()}";
}
