using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Llama;

/// <summary>Final RMSNorm and the output projection to vocabulary logits (lm_head, or the embedding table when tied).</summary>
public sealed class LlamaHead : nn.Module
{
    private readonly RmsNorm norm;
    private readonly Parameter lm_head;

    public LlamaHead(Tensor normWeight, Tensor lmHeadWeight, double eps) : base(nameof(LlamaHead))
    {
        norm = new RmsNorm(normWeight, eps);
        lm_head = FrozenParameter.From(lmHeadWeight);
        register_module("norm", norm);
        register_parameter("lm_head", lm_head);
    }

    public RmsNorm Norm => norm;
    public Parameter Weight => lm_head;

    /// <summary>[b, s, h] -> [b, s, vocab].</summary>
    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return linear(norm.Forward(hidden), lm_head).MoveToOuterDisposeScope();
    }
}
