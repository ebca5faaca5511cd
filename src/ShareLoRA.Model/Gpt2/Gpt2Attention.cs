using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Gpt2;

/// <summary>
/// GPT-2 causal self-attention: one fused c_attn Conv1D produces [q | k | v]; c_proj maps the heads back. Adapters
/// act like microsoft/LoRA's MergedLinear: the delta of q is added to the first n_embd outputs of c_attn, that of k
/// to the middle n_embd and that of v to the last n_embd (with targets q, v this is enable_lora=[True, False, True]).
/// </summary>
public sealed class Gpt2Attention : nn.Module
{
    private readonly FrozenAffine c_attn, c_proj;
    private readonly Gpt2Config _config;

    public Gpt2Attention(Gpt2Config config, int layerIndex, WeightSource weights) : base(nameof(Gpt2Attention))
    {
        _config = config;
        long h = config.HiddenSize;
        c_attn = Gpt2Block.Conv1D(weights, layerIndex, "attn.c_attn", h, 3 * h);
        c_proj = Gpt2Block.Conv1D(weights, layerIndex, "attn.c_proj", h, h);
        register_module("c_attn", c_attn);
        register_module("c_proj", c_proj);
    }

    public FrozenAffine CAttn => c_attn;
    public FrozenAffine CProj => c_proj;

    /// <param name="x">[b, s, h], already normalized.</param>
    /// <param name="mask">Boolean [b or 1, 1, s, T] (true = may attend), or null for plain causal / one token after a cache.</param>
    public Tensor Forward(Tensor x, int layerIndex, KvCache? cache, ILayerAdapter? adapter, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], s = x.shape[1];
        int h = _config.HiddenSize, heads = _config.NumHeads, d = _config.HeadDim;

        var qkv = c_attn.Forward(x);                                     // [b, s, 3h]
        var q = WithDelta(qkv.narrow(2, 0, h), TargetModule.Q, x, adapter);
        var k = WithDelta(qkv.narrow(2, h, h), TargetModule.K, x, adapter);
        var v = WithDelta(qkv.narrow(2, 2 * h, h), TargetModule.V, x, adapter);

        q = q.reshape(b, s, heads, d).transpose(1, 2);                  // [b, s, h] -> [b, heads, s, d]
        k = k.reshape(b, s, heads, d).transpose(1, 2);
        v = v.reshape(b, s, heads, d).transpose(1, 2);
        if (cache != null) (k, v) = cache.Append(layerIndex, k, v);     // -> [b, heads, T, d]

        bool causal = mask is null && k.shape[2] == s && s > 1;
        var attn = scaled_dot_product_attention(q, k, v, mask, 0.0, causal);   // [b, heads, s, d]
        attn = attn.transpose(1, 2).reshape(b, s, h);                        // -> [b, s, h]
        return c_proj.Forward(attn, TargetModule.O, adapter).MoveToOuterDisposeScope();
    }

    private static Tensor WithDelta(Tensor slice, TargetModule module, Tensor input, ILayerAdapter? adapter)
    {
        var delta = adapter?.Delta(module, input);
        return delta is null ? slice : slice.AddTensor(delta);
    }
}
