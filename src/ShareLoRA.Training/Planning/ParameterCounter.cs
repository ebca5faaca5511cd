using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Adapters;

namespace ShareLoRA.Training.Planning;

/// <summary>
/// Counts trainable adapter parameters (SHARELORA.md): A is r x d_in, B is d_out x r, no biases; a shared A or B
/// is one tensor per module type for all layers and is counted once.
/// </summary>
public static class ParameterCounter
{
    /// <summary>Trainable parameters of <paramref name="policy"/> and of plain LoRA on the same targets.</summary>
    public static ParameterCount Count(ModelShape shape, SharingPolicy policy, int rank)
    {
        if (rank <= 0) throw new ArgumentException($"adapter rank must be > 0 (got {rank})");
        long shared = 0, perLayer = 0, loraPerLayer = 0;
        foreach (var module in policy.Targets)
        {
            var (dIn, dOut) = shape.Dims(module);
            long a = (long)rank * dIn, b = (long)rank * dOut;
            if (policy.SharesA(module)) shared += a; else perLayer += a;
            if (policy.SharesB(module)) shared += b; else perLayer += b;
            loraPerLayer += a + b;
        }
        return new ParameterCount(
            Trainable: shared + shape.NumLayers * perLayer,
            LoraTrainable: shape.NumLayers * loraPerLayer,
            SharedParameters: shared,
            PerLayerParameters: perLayer)
        {
            HeadTrainable = shape.ClassifierParameters,
        };
    }

    /// <summary>Trainable parameters, shared tensors counted once.</summary>
    public static long Trainable(ModelShape shape, SharingPolicy policy, int rank) => Count(shape, policy, rank).Trainable;

    /// <summary>Plain-LoRA trainable parameters for the given targets: L x sum_m r (d_in + d_out).</summary>
    public static long LoraTrainable(ModelShape shape, IEnumerable<TargetModule> targets, int rank) =>
        Count(shape, SharingPolicy.For(AdapterMethod.Lora, targets), rank).Trainable;
}
