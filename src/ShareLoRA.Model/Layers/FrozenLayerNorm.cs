using ShareLoRA.Model.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Layers;

/// <summary>LayerNorm over the last dimension with a frozen weight and bias (GPT-2 and RoBERTa).</summary>
public sealed class FrozenLayerNorm : nn.Module
{
    private readonly Parameter weight, bias;
    private readonly double _eps;

    public FrozenLayerNorm(Tensor weight, Tensor bias, double eps) : base(nameof(FrozenLayerNorm))
    {
        this.weight = FrozenParameter.From(weight);
        this.bias = FrozenParameter.From(bias);
        _eps = eps;
        register_parameter("weight", this.weight);
        register_parameter("bias", this.bias);
    }

    public Parameter Weight => weight;
    public Parameter Bias => bias;

    /// <summary>[..., h] -> [..., h].</summary>
    public Tensor Forward(Tensor x) => layer_norm(x, [weight.shape[0]], weight, bias, _eps);
}
