using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Layers;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>One pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(.)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    private readonly RmsNorm input_layernorm, post_attention_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly LlamaMlp mlp;

    /// <summary>Global index of this layer in the whole model (0-based), also the adapter and cache key.</summary>
    public int LayerIndex { get; }

    public LlamaDecoderLayer(LlamaConfig config, int layerIndex, WeightSource weights) : base(nameof(LlamaDecoderLayer))
    {
        LayerIndex = layerIndex;
        using (var w = weights(HfKeys.InputNorm(layerIndex), [config.HiddenSize]))
            input_layernorm = new RmsNorm(w, config.RmsNormEps);
        self_attn = new LlamaAttention(config, layerIndex, weights);
        using (var w = weights(HfKeys.PostAttentionNorm(layerIndex), [config.HiddenSize]))
            post_attention_layernorm = new RmsNorm(w, config.RmsNormEps);
        mlp = new LlamaMlp(config, layerIndex, weights);
        register_module("input_layernorm", input_layernorm);
        register_module("self_attn", self_attn);
        register_module("post_attention_layernorm", post_attention_layernorm);
        register_module("mlp", mlp);
    }

    public RmsNorm InputNorm => input_layernorm;
    public RmsNorm PostAttentionNorm => post_attention_layernorm;
    public LlamaAttention Attention => self_attn;
    public LlamaMlp Mlp => mlp;

    /// <summary>Base weight of any target module of this layer ([d_out, d_in]).</summary>
    public TorchSharp.Modules.Parameter Weight(TargetModule module) =>
        module is TargetModule.Gate or TargetModule.Up or TargetModule.Down ? mlp.Weight(module) : self_attn.Weight(module);

    /// <param name="x">[b, s, h]</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, KvCache? cache, ILayerAdapter? adapter, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var h = x.AddTensor(self_attn.Forward(input_layernorm.Forward(x), cos, sin, LayerIndex, cache, adapter, mask));
        var output = h.AddTensor(mlp.Forward(post_attention_layernorm.Forward(h), adapter));
        return output.MoveToOuterDisposeScope();
    }
}
