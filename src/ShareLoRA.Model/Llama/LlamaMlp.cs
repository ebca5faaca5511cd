using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.IO;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Llama;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)); down's adapter sees silu(gate(x)) * up(x).</summary>
public sealed class LlamaMlp : nn.Module
{
    private readonly Parameter gate_proj, up_proj, down_proj;

    public LlamaMlp(LlamaConfig config, int layerIndex, WeightSource weights) : base(nameof(LlamaMlp))
    {
        long h = config.HiddenSize, f = config.IntermediateSize;
        gate_proj = FrozenParameter.Load(weights, HfKeys.Weight(layerIndex, TargetModule.Gate), [f, h]);
        up_proj = FrozenParameter.Load(weights, HfKeys.Weight(layerIndex, TargetModule.Up), [f, h]);
        down_proj = FrozenParameter.Load(weights, HfKeys.Weight(layerIndex, TargetModule.Down), [h, f]);
        register_parameter("gate_proj", gate_proj);
        register_parameter("up_proj", up_proj);
        register_parameter("down_proj", down_proj);
    }

    public Parameter Weight(TargetModule module) => module switch
    {
        TargetModule.Gate => gate_proj,
        TargetModule.Up => up_proj,
        TargetModule.Down => down_proj,
        _ => throw new ArgumentOutOfRangeException(nameof(module)),
    };

    /// <param name="x">[b, s, h], already normalized.</param>
    public Tensor Forward(Tensor x, ILayerAdapter? adapter)
    {
        using var scope = NewDisposeScope();
        var gate = LlamaAttention.Project(x, gate_proj, TargetModule.Gate, adapter);   // [b, s, f]
        var up = LlamaAttention.Project(x, up_proj, TargetModule.Up, adapter);         // [b, s, f]
        var hidden = silu(gate) * up;
        return LlamaAttention.Project(hidden, down_proj, TargetModule.Down, adapter).MoveToOuterDisposeScope();
    }
}
