using ShareLoRA.Model.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>RMSNorm as HF Llama: w * x / sqrt(mean(x^2) + eps), the statistic computed in at least fp32.</summary>
public sealed class RmsNorm : nn.Module
{
    private readonly Parameter weight;
    private readonly double _eps;

    public RmsNorm(Tensor weight, double eps) : base(nameof(RmsNorm))
    {
        this.weight = FrozenParameter.From(weight);
        _eps = eps;
        register_parameter("weight", this.weight);
    }

    public Parameter Weight => weight;

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        // bf16/fp16 go up to fp32 as in HF; fp64 stays fp64 (casting it down would make float64 gradient checks
        // through the model see fp32 rounding noise).
        var wide = x.dtype == ScalarType.Float64 ? x : x.to(ScalarType.Float32);
        using Scalar two = 2.ToScalar(), eps = _eps.ToScalar();      // explicit Scalars: see AdapterDropout.KeepMask
        var variance = wide.pow(two).mean([-1], keepdim: true);       // [..., 1]
        var normed = (wide * variance.AddScalar(eps).rsqrt()).to(x.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}
