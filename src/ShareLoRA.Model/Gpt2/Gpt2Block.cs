using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Gpt2;

/// <summary>One pre-LayerNorm GPT-2 block: x + attn(ln_1(x)), then + mlp(ln_2(.)).</summary>
public sealed class Gpt2Block : nn.Module
{
    private readonly FrozenLayerNorm ln_1, ln_2;
    private readonly Gpt2Attention attn;
    private readonly Gpt2Mlp mlp;

    /// <summary>Global index of this block in the whole model (0-based), also the adapter and cache key.</summary>
    public int LayerIndex { get; }

    public Gpt2Block(Gpt2Config config, int layerIndex, WeightSource weights) : base(nameof(Gpt2Block))
    {
        LayerIndex = layerIndex;
        ln_1 = Norm(weights, layerIndex, "ln_1", config);
        attn = new Gpt2Attention(config, layerIndex, weights);
        ln_2 = Norm(weights, layerIndex, "ln_2", config);
        mlp = new Gpt2Mlp(config, layerIndex, weights);
        register_module("ln_1", ln_1);
        register_module("attn", attn);
        register_module("ln_2", ln_2);
        register_module("mlp", mlp);
    }

    public FrozenLayerNorm Ln1 => ln_1;
    public FrozenLayerNorm Ln2 => ln_2;
    public Gpt2Attention Attention => attn;
    public Gpt2Mlp Mlp => mlp;

    /// <param name="x">[b, s, h]</param>
    public Tensor Forward(Tensor x, KvCache? cache, ILayerAdapter? adapter, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var h = x.AddTensor(attn.Forward(ln_1.Forward(x), LayerIndex, cache, adapter, mask));
        return h.AddTensor(mlp.Forward(ln_2.Forward(h), adapter)).MoveToOuterDisposeScope();
    }

    /// <summary>This block's tensors under their Hugging Face names.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> HfTensors()
    {
        int i = LayerIndex;
        (string Name, Tensor W, Tensor B)[] parts =
        [
            ("ln_1", ln_1.Weight, ln_1.Bias), ("attn.c_attn", attn.CAttn.Weight, attn.CAttn.Bias),
            ("attn.c_proj", attn.CProj.Weight, attn.CProj.Bias), ("ln_2", ln_2.Weight, ln_2.Bias),
            ("mlp.c_fc", mlp.CFc.Weight, mlp.CFc.Bias), ("mlp.c_proj", mlp.CProj.Weight, mlp.CProj.Bias),
        ];
        foreach (var (name, w, b) in parts)
        {
            yield return new(Gpt2Keys.Weight(i, name), w);
            yield return new(Gpt2Keys.Bias(i, name), b);
        }
    }

    internal static FrozenAffine Conv1D(WeightSource weights, int layer, string module, long dIn, long dOut)
    {
        using var w = weights(Gpt2Keys.Weight(layer, module), [dIn, dOut]);   // Conv1D: [in, out]
        using var b = weights(Gpt2Keys.Bias(layer, module), [dOut]);
        return new FrozenAffine(w, b, inputMajor: true);
    }

    private static FrozenLayerNorm Norm(WeightSource weights, int layer, string module, Gpt2Config config)
    {
        using var w = weights(Gpt2Keys.Weight(layer, module), [config.HiddenSize]);
        using var b = weights(Gpt2Keys.Bias(layer, module), [config.HiddenSize]);
        return new FrozenLayerNorm(w, b, config.LayerNormEps);
    }
}
