using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Llama;

/// <summary>
/// Grouped-query self-attention with RoPE: query head h uses key/value head h / (heads / kv_heads).
/// Each projection's output gets the layer adapter's delta for that module added.
/// </summary>
public sealed class LlamaAttention : nn.Module
{
    private readonly Parameter q_proj, k_proj, v_proj, o_proj;
    private readonly LlamaConfig _config;

    public LlamaAttention(LlamaConfig config, int layerIndex, WeightSource weights) : base(nameof(LlamaAttention))
    {
        _config = config;
        long h = config.HiddenSize, qOut = config.NumAttentionHeads * config.HeadDim, kvOut = config.NumKeyValueHeads * config.HeadDim;
        q_proj = FrozenParameter.Load(weights, HfKeys.Weight(layerIndex, TargetModule.Q), [qOut, h]);
        k_proj = FrozenParameter.Load(weights, HfKeys.Weight(layerIndex, TargetModule.K), [kvOut, h]);
        v_proj = FrozenParameter.Load(weights, HfKeys.Weight(layerIndex, TargetModule.V), [kvOut, h]);
        o_proj = FrozenParameter.Load(weights, HfKeys.Weight(layerIndex, TargetModule.O), [h, qOut]);
        register_parameter("q_proj", q_proj);
        register_parameter("k_proj", k_proj);
        register_parameter("v_proj", v_proj);
        register_parameter("o_proj", o_proj);
    }

    /// <summary>Base weight of q, k, v or o ([d_out, d_in]).</summary>
    public Parameter Weight(TargetModule module) => module switch
    {
        TargetModule.Q => q_proj,
        TargetModule.K => k_proj,
        TargetModule.V => v_proj,
        TargetModule.O => o_proj,
        _ => throw new ArgumentOutOfRangeException(nameof(module)),
    };

    /// <param name="x">[b, s, h], already normalized.</param>
    /// <param name="cos">[s, d] for the new positions.</param>
    /// <param name="sin">[s, d] for the new positions.</param>
    /// <param name="mask">Boolean [b or 1, 1, s, T] (true = may attend), or null for plain causal (T == s) / no mask (s == 1 with a cache).</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, int layerIndex, KvCache? cache, ILayerAdapter? adapter, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], s = x.shape[1];
        int heads = _config.NumAttentionHeads, kvHeads = _config.NumKeyValueHeads, d = _config.HeadDim;

        var q = Project(x, q_proj, TargetModule.Q, adapter);    // [b, s, heads*d]
        var k = Project(x, k_proj, TargetModule.K, adapter);    // [b, s, kv*d]
        var v = Project(x, v_proj, TargetModule.V, adapter);

        q = q.view(b, s, heads, d).transpose(1, 2);             // [b, s, heads*d] -> [b, heads, s, d]
        k = k.view(b, s, kvHeads, d).transpose(1, 2);           // -> [b, kv, s, d]
        v = v.view(b, s, kvHeads, d).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);

        if (cache != null) (k, v) = cache.Append(layerIndex, k, v);   // -> [b, kv, T, d]
        k = RepeatKv(k, heads / kvHeads);                       // -> [b, heads, T, d]
        v = RepeatKv(v, heads / kvHeads);

        bool causal = mask is null && k.shape[2] == s && s > 1;
        var attn = scaled_dot_product_attention(q, k, v, mask, 0.0, causal);   // [b, heads, s, d]
        attn = attn.transpose(1, 2).reshape(b, s, heads * d);                // -> [b, s, heads*d]
        return Project(attn, o_proj, TargetModule.O, adapter).MoveToOuterDisposeScope();
    }

    /// <summary>[b, kv, T, d] -> [b, kv*groups, T, d], each kv head repeated for its group of query heads.</summary>
    public static Tensor RepeatKv(Tensor kv, int groups)
    {
        if (groups == 1) return kv.alias();
        long b = kv.shape[0], n = kv.shape[1], t = kv.shape[2], d = kv.shape[3];
        return kv.unsqueeze(2).expand(b, n, groups, t, d).reshape(b, n * groups, t, d);
    }

    internal static Tensor Project(Tensor input, Parameter weight, TargetModule module, ILayerAdapter? adapter)
    {
        var y = linear(input, weight);
        var delta = adapter?.Delta(module, input);
        return delta is null ? y : y.AddTensor(delta);
    }
}
