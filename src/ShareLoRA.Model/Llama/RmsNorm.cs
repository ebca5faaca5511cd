using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>RMSNorm as HF Llama: w * x / sqrt(mean(x^2) + eps), the statistic computed in fp32.</summary>
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
        var x32 = x.to(ScalarType.Float32);
        var variance = x32.pow(2).mean([-1], keepdim: true);          // [..., 1]
        var normed = (x32 * (variance + _eps).rsqrt()).to(x.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}
