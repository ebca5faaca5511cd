using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Gpt2;

/// <summary>Final LayerNorm (ln_f) and the output projection to vocabulary logits, tied to the token embedding.</summary>
public sealed class Gpt2Head : nn.Module
{
    private readonly FrozenLayerNorm ln_f;
    private readonly Parameter lm_head;

    public Gpt2Head(FrozenLayerNorm norm, Tensor lmHeadWeight) : base(nameof(Gpt2Head))
    {
        ln_f = norm;
        lm_head = FrozenParameter.From(lmHeadWeight);
        register_module("ln_f", ln_f);
        register_parameter("lm_head", lm_head);
    }

    public FrozenLayerNorm Norm => ln_f;
    public Parameter Weight => lm_head;

    /// <summary>[b, s, h] -> [b, s, vocab].</summary>
    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return linear(ln_f.Forward(hidden), lm_head).MoveToOuterDisposeScope();
    }
}
