using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Roberta;

/// <summary>
/// Bidirectional self-attention with biased query/key/value/output projections, then the post-LN residual
/// LayerNorm(x + dense(attn)). Adapter module types: Q, K, V for query/key/value, O for attention.output.dense.
/// </summary>
public sealed class RobertaAttention : nn.Module
{
    private readonly FrozenAffine query, key, value, output;
    private readonly FrozenLayerNorm norm;
    private readonly RobertaConfig _config;

    public RobertaAttention(RobertaConfig config, int layerIndex, WeightSource weights) : base(nameof(RobertaAttention))
    {
        _config = config;
        int h = config.HiddenSize;
        query = RobertaLayer.Linear(weights, layerIndex, RobertaKeys.Query, h, h);
        key = RobertaLayer.Linear(weights, layerIndex, RobertaKeys.Key, h, h);
        value = RobertaLayer.Linear(weights, layerIndex, RobertaKeys.Value, h, h);
        output = RobertaLayer.Linear(weights, layerIndex, RobertaKeys.AttentionOutput, h, h);
        norm = RobertaLayer.Norm(weights, layerIndex, RobertaKeys.AttentionNorm, config);
        register_module("query", query);
        register_module("key", key);
        register_module("value", value);
        register_module("output", output);
        register_module("norm", norm);
    }

    public FrozenAffine Query => query;
    public FrozenAffine Key => key;
    public FrozenAffine Value => value;
    public FrozenAffine Output => output;
    public FrozenLayerNorm Norm => norm;

    /// <param name="x">[b, s, h], the layer input.</param>
    /// <param name="mask">Boolean [b, 1, 1, s] (true = key may be attended), or null for no padding.</param>
    public Tensor Forward(Tensor x, ILayerAdapter? adapter, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], s = x.shape[1];
        int heads = _config.NumHeads, d = _config.HeadDim;
        var q = query.Forward(x, TargetModule.Q, adapter).view(b, s, heads, d).transpose(1, 2);   // [b, s, h] -> [b, heads, s, d]
        var k = key.Forward(x, TargetModule.K, adapter).view(b, s, heads, d).transpose(1, 2);
        var v = value.Forward(x, TargetModule.V, adapter).view(b, s, heads, d).transpose(1, 2);
        var attn = scaled_dot_product_attention(q, k, v, mask, 0.0, false);                      // [b, heads, s, d]
        attn = attn.transpose(1, 2).reshape(b, s, heads * d);                                    // -> [b, s, h]
        return norm.Forward(x.AddTensor(output.Forward(attn, TargetModule.O, adapter))).MoveToOuterDisposeScope();
    }
}
