using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Gpt2;

/// <summary>GPT-2 feed-forward: c_proj(gelu_tanh(c_fc(x))). Adapter module types: Up for c_fc, Down for c_proj.</summary>
public sealed class Gpt2Mlp : nn.Module
{
    private readonly FrozenAffine c_fc, c_proj;

    public Gpt2Mlp(Gpt2Config config, int layerIndex, WeightSource weights) : base(nameof(Gpt2Mlp))
    {
        c_fc = Gpt2Block.Conv1D(weights, layerIndex, "mlp.c_fc", config.HiddenSize, config.InnerSize);
        c_proj = Gpt2Block.Conv1D(weights, layerIndex, "mlp.c_proj", config.InnerSize, config.HiddenSize);
        register_module("c_fc", c_fc);
        register_module("c_proj", c_proj);
    }

    public FrozenAffine CFc => c_fc;
    public FrozenAffine CProj => c_proj;

    /// <param name="x">[b, s, h], already normalized.</param>
    public Tensor Forward(Tensor x, ILayerAdapter? adapter)
    {
        using var scope = NewDisposeScope();
        var hidden = GeluTanh(c_fc.Forward(x, TargetModule.Up, adapter));   // [b, s, inner]
        return c_proj.Forward(hidden, TargetModule.Down, adapter).MoveToOuterDisposeScope();
    }

    /// <summary>GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    public static Tensor GeluTanh(Tensor x)
    {
        using var scope = NewDisposeScope();
        var inner = x.AddTensor(x.PowScalar(3).MulScalar(0.044715)).MulScalar(Math.Sqrt(2.0 / Math.PI));
        return (x.MulScalar(0.5) * inner.tanh().AddScalar(1.0)).MoveToOuterDisposeScope();
    }
}
