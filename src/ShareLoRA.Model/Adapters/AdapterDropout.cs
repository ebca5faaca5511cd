using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// Inverted dropout on the LoRA branch input whose mask is a pure function of
/// (run seed, step, micro-batch, layer, module): each mask gets its own torch.Generator seeded by
/// <see cref="DropoutSeed.ForDropout"/>, so masks do not depend on call order or on what else ran in the process.
/// </summary>
public static class AdapterDropout
{
    /// <summary>
    /// Keep-mask of the given shape as float32 on the CPU: 1 where kept (probability 1 - p), 0 where dropped.
    /// Drawn in float32 on the CPU whatever the compute dtype or device, so fp32/fp64 banks and CPU/GPU stages agree.
    /// </summary>
    public static Tensor KeepMask(long runSeed, AdapterForwardContext context, int layer, TargetModule module, long[] shape, double p)
    {
        using var scope = NewDisposeScope();
        var seed = DropoutSeed.ForGenerator(DropoutSeed.ForDropout(runSeed, context.Step, context.MicroBatch, layer, module));
        using var generator = new Generator(seed, CPU);
        var u = rand(shape, ScalarType.Float32, CPU, false, generator);
        // Scalars are created explicitly and kept alive by `using` until the native call returns: TorchSharp's Scalar
        // overloads pass scalar.Handle without GC.KeepAlive, so an implicit temporary can be finalized mid-call (seen
        // in CI as libtorch's "Unknown scalar type" inside mul_). The same pattern is used across the training hot path.
        using var threshold = p.ToScalar();
        return u.ge(threshold).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// drop(x) = x * mask / (1 - p) in training with p > 0, otherwise x itself (the same tensor object).
    /// </summary>
    public static Tensor Apply(Tensor x, long runSeed, AdapterForwardContext context, int layer, TargetModule module, double p)
    {
        if (!context.Training || p <= 0) return x;
        using var scope = NewDisposeScope();
        var mask = KeepMask(runSeed, context, layer, module, x.shape, p).to(x.dtype, x.device);
        // Scale the small mask rather than the product: x is read once. (Explicit Scalar: see KeepMask.)
        using var keepScale = (1.0 / (1.0 - p)).ToScalar();
        var scaled = mask.mul_(keepScale);
        return x.mul(scaled).MoveToOuterDisposeScope();
    }
}
