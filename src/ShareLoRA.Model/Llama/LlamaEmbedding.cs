using ShareLoRA.Model.Config;
using ShareLoRA.Model.IO;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>Token embedding table (model.embed_tokens.weight, [vocab, h]).</summary>
public sealed class LlamaEmbedding : nn.Module
{
    private readonly Parameter weight;

    public LlamaEmbedding(Tensor weight) : base(nameof(LlamaEmbedding))
    {
        this.weight = FrozenParameter.From(weight);
        register_parameter("weight", this.weight);
    }

    public Parameter Weight => weight;

    /// <summary>[b, s] token ids -> [b, s, h].</summary>
    public Tensor Forward(Tensor inputIds)
    {
        using var scope = NewDisposeScope();
        var flat = inputIds.reshape(-1).to(ScalarType.Int64, weight.device);          // [b*s]
        var rows = weight.index_select(0, flat);                                       // [b*s, h]
        return rows.view(inputIds.shape[0], inputIds.shape[1], weight.shape[1]).MoveToOuterDisposeScope();   // -> [b, s, h]
    }
}
