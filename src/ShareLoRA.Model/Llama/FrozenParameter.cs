using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>Wraps a base weight as a Parameter that does not require gradients (base weights stay frozen).</summary>
internal static class FrozenParameter
{
    public static Parameter From(Tensor weight)
    {
        using var detached = weight.detach();
        return new Parameter(detached, requires_grad: false);
    }

    /// <summary>Reads tensor <paramref name="name"/> of <paramref name="shape"/> from the weight source as a frozen Parameter.</summary>
    public static Parameter Load(WeightSource weights, string name, long[] shape)
    {
        using var t = weights(name, shape);
        return From(t);
    }
}
