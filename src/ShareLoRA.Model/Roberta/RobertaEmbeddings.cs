using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Roberta;

/// <summary>
/// LayerNorm(word + position + token type). Positions count non-padding tokens from padding_idx + 1 (HF
/// create_position_ids_from_input_ids), so padding gets position padding_idx and never shifts the real tokens.
/// </summary>
public sealed class RobertaEmbeddings : nn.Module
{
    private readonly Parameter word_embeddings, position_embeddings, token_type_embeddings;
    private readonly FrozenLayerNorm LayerNorm;
    private readonly int _padId;

    public RobertaEmbeddings(RobertaConfig config, WeightSource weights) : base(nameof(RobertaEmbeddings))
    {
        _padId = config.PadTokenId;
        long h = config.HiddenSize;
        word_embeddings = FrozenParameter.Load(weights, RobertaKeys.WordEmbeddings, [config.VocabSize, h]);
        position_embeddings = FrozenParameter.Load(weights, RobertaKeys.PositionEmbeddings, [config.MaxPositions, h]);
        token_type_embeddings = FrozenParameter.Load(weights, RobertaKeys.TokenTypeEmbeddings, [config.TypeVocabSize, h]);
        using (var w = weights(RobertaKeys.Weight(RobertaKeys.EmbeddingNorm), [h]))
        using (var b = weights(RobertaKeys.Bias(RobertaKeys.EmbeddingNorm), [h]))
            LayerNorm = new FrozenLayerNorm(w, b, config.LayerNormEps);
        register_parameter("word_embeddings", word_embeddings);
        register_parameter("position_embeddings", position_embeddings);
        register_parameter("token_type_embeddings", token_type_embeddings);
        register_module("LayerNorm", LayerNorm);
    }

    public Parameter WordWeight => word_embeddings;
    public Parameter PositionWeight => position_embeddings;
    public Parameter TokenTypeWeight => token_type_embeddings;
    public FrozenLayerNorm Norm => LayerNorm;

    /// <summary>
    /// [b, s] ids -> [b, s] position ids: padding_idx + (running count of non-pad tokens) on real tokens, padding_idx on padding.
    /// </summary>
    public static Tensor PositionIds(Tensor inputIds, int padId)
    {
        using var scope = NewDisposeScope();
        var real = inputIds.NeScalar(padId).to(ScalarType.Int64);                 // [b, s] 1 on real tokens
        return (real.cumsum(1) * real).AddScalar(padId).MoveToOuterDisposeScope();
    }

    /// <summary>[b, s] ids (and optional [b, s] token type ids, default 0) -> [b, s, h].</summary>
    public Tensor Forward(Tensor inputIds, Tensor? tokenTypeIds)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], s = inputIds.shape[1], h = word_embeddings.shape[1];
        var ids = inputIds.to(ScalarType.Int64, word_embeddings.device);
        var positions = PositionIds(ids, _padId);
        long maxPosition = positions.max().item<long>();
        if (maxPosition >= position_embeddings.shape[0])
            throw new ArgumentException($"sequence needs position {maxPosition} but max_position_embeddings is {position_embeddings.shape[0]}");
        var types = tokenTypeIds?.to(ScalarType.Int64, word_embeddings.device) ?? zeros([b, s], ScalarType.Int64, word_embeddings.device);
        var sum = word_embeddings.index_select(0, ids.reshape(-1))
            .AddTensor(position_embeddings.index_select(0, positions.reshape(-1)))
            .AddTensor(token_type_embeddings.index_select(0, types.reshape(-1)));   // [b*s, h]
        return LayerNorm.Forward(sum.view(b, s, h)).MoveToOuterDisposeScope();
    }
}
