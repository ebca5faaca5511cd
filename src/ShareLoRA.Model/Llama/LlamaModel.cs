using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>
/// A Llama-family causal language model, or a contiguous piece of one: optional token embedding, decoder layers
/// [FirstLayer, EndLayer), optional head. Base weights are frozen. The model knows nothing of training or pipelines;
/// a pipeline stage is simply a model built with a layer range.
/// </summary>
public sealed class LlamaModel : LayerRangeModel<LlamaConfig, LlamaEmbedding, LlamaDecoderLayer, LlamaHead>
{
    private readonly RotaryEmbedding _rope;

    private LlamaModel(LlamaConfig config, ModelLoadOptions options, WeightSource weights) : base(nameof(LlamaModel),
        config, config.NumHiddenLayers, options, ("embed_tokens", "layers", "head"),
        () =>
        {
            using var table = weights(HfKeys.EmbedTokens, [config.VocabSize, config.HiddenSize]);
            return new LlamaEmbedding(table);
        },
        i => new LlamaDecoderLayer(config, i, weights),
        embedding =>
        {
            using var norm = weights(HfKeys.FinalNorm, [config.HiddenSize]);
            // Tied models store no lm_head.weight: the output layer is the embedding table. A copy keeps every
            // module the single owner of its parameters, and the table's bytes are read only once.
            using var output = config.TieWordEmbeddings
                ? embedding?.Weight.clone() ?? weights(HfKeys.EmbedTokens, [config.VocabSize, config.HiddenSize])
                : weights(HfKeys.LmHead, [config.VocabSize, config.HiddenSize]);
            return new LlamaHead(norm, output, config.RmsNormEps);
        })
    {
        _rope = new RotaryEmbedding(config);
    }

    /// <summary>
    /// Loads the requested part of a Hugging Face checkpoint directory, reading only the tensors that part needs.
    /// </summary>
    public static LlamaModel Load(string dir, ModelLoadOptions options)
    {
        using var checkpoint = HfCheckpoint.Open(dir);
        return Load(checkpoint, options);
    }

    /// <summary>Loads from an open checkpoint (lets a caller inspect <see cref="HfCheckpoint.BytesRead"/>).</summary>
    public static LlamaModel Load(HfCheckpoint checkpoint, ModelLoadOptions options)
    {
        var config = checkpoint.Config;
        if (!config.TieWordEmbeddings && options.IncludeHead && !checkpoint.Contains(HfKeys.LmHead))
            throw new InvalidDataException($"{checkpoint.Directory}: tensor '{HfKeys.LmHead}' not found and tie_word_embeddings is false");
        var device = torch.device(options.Device);
        return new LlamaModel(config, options, (name, shape) => checkpoint.Read(name, options.DType, device, shape));
    }

    /// <summary>
    /// A model with small random weights (normal, std <paramref name="initStd"/>; norm weights 1 + 0.1 N(0,1)). Each
    /// tensor's values depend only on the seed and its name, so a layer range built with the same seed holds exactly
    /// the full model's weights.
    /// </summary>
    public static LlamaModel CreateRandom(LlamaConfig config, long seed, ModelLoadOptions? options = null, double initStd = 0.02)
    {
        options ??= new ModelLoadOptions();
        return new LlamaModel(config, options, FamilyWeights.Random(seed, options.DType, torch.device(options.Device), initStd,
            name => name.EndsWith("norm.weight", StringComparison.Ordinal)));
    }

    /// <summary>[b, s] token ids -> [b, s, h]. Needs the embedding.</summary>
    public Tensor Embed(Tensor inputIds)
    {
        if (Embedding is null) throw new InvalidOperationException("this model part has no embedding (IncludeEmbedding was false)");
        if (inputIds.dim() != 2) throw new ArgumentException($"input ids must be [batch, seq] (got {inputIds.dim()} dims)");
        return Embedding.Forward(inputIds);
    }

    /// <summary>
    /// Runs decoder layers [FirstLayer, EndLayer) on hidden [b, s, h] at positions [startPosition, startPosition + s).
    /// </summary>
    /// <param name="cache">When given, must already hold exactly startPosition positions; new keys/values are appended.</param>
    /// <param name="attentionMask">Optional [b, s] (or [b, cached + s]) 1/0 padding mask, right padding; combined with causal.</param>
    public Tensor ForwardLayers(Tensor hidden, int startPosition = 0, KvCache? cache = null, IModelAdapters? adapters = null, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        CheckHidden(hidden, Config.HiddenSize);
        CheckCachePosition(startPosition, cache);

        long b = hidden.shape[0], s = hidden.shape[1];
        long past = cache is not null ? startPosition : 0;
        var (cos, sin) = _rope.CosSin(startPosition, s, hidden.dtype, hidden.device);
        var mask = BuildMask(b, s, past, attentionMask, hidden.device);
        var x = hidden;
        foreach (var layer in RangeLayers)
            x = layer.Forward(x, cos, sin, cache, adapters?.ForLayer(layer.LayerIndex), mask);
        return (ReferenceEquals(x, hidden) ? hidden.alias() : x).MoveToOuterDisposeScope();
    }

    // Boolean [b or 1, 1, s, past + s] (true = may attend), or null when scaled_dot_product_attention's own causal
    // flag (no past) or no mask at all (one new token after a cache) says the same.
    internal static Tensor? BuildMask(long b, long s, long past, Tensor? paddingMask, Device device)
    {
        long total = past + s;
        if (paddingMask is null && (past == 0 || s == 1)) return null;
        var query = KeptScalarOps.Arange(past, total, device: device).unsqueeze(1);       // [s, 1] absolute positions
        var key = KeptScalarOps.Arange(0, total, device: device).unsqueeze(0);            // [1, T]
        var allowed = key.le(query);                                        // [s, T] causal
        if (paddingMask is null) return allowed.view(1, 1, s, total);
        if (paddingMask.dim() != 2 || paddingMask.shape[0] != b || (paddingMask.shape[1] != s && paddingMask.shape[1] != total))
            throw new ArgumentException($"attention mask must be [{b}, {s}] or [{b}, {total}] (got [{string.Join(", ", paddingMask.shape)}])");
        var valid = paddingMask.to(device).NeScalar(0);                           // [b, L]
        if (valid.shape[1] != total)                                        // cached positions count as valid
            valid = cat([ones(b, past, ScalarType.Bool, device), valid], 1);
        // A padded query still attends to itself, so its softmax never sees an empty row (no NaN).
        var self = key.eq(query).view(1, 1, s, total);
        return (allowed.view(1, 1, s, total) & valid.view(b, 1, 1, total)) | self;
    }

    /// <summary>[b, s, h] -> [b, s, vocab] through the final norm and lm_head. Needs the head.</summary>
    public Tensor Logits(Tensor hidden)
    {
        if (Head is null) throw new InvalidOperationException("this model part has no head (IncludeHead was false)");
        return Head.Forward(hidden);
    }

    /// <summary>Token ids [b, s] -> logits [b, s, vocab]. Needs the embedding and the head.</summary>
    public Tensor Forward(Tensor inputIds, int startPosition = 0, KvCache? cache = null, IModelAdapters? adapters = null, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var hidden = Embed(inputIds);
        hidden = ForwardLayers(hidden, startPosition, cache, adapters, attentionMask);
        return Logits(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>Base weights under their Hugging Face names (tied models omit lm_head.weight).</summary>
    public override IEnumerable<KeyValuePair<string, Tensor>> HfTensors()
    {
        if (Embedding is not null) yield return new(HfKeys.EmbedTokens, Embedding.Weight);
        foreach (var layer in RangeLayers)
        {
            int i = layer.LayerIndex;
            yield return new(HfKeys.InputNorm(i), layer.InputNorm.Weight);
            foreach (var m in TargetModules.All) yield return new(HfKeys.Weight(i, m), layer.Weight(m));
            yield return new(HfKeys.PostAttentionNorm(i), layer.PostAttentionNorm.Weight);
        }
        if (Head is not null)
        {
            yield return new(HfKeys.FinalNorm, Head.Norm.Weight);
            if (!Config.TieWordEmbeddings) yield return new(HfKeys.LmHead, Head.Weight);
        }
    }

    protected override string ConfigJson(string torchDtype) => (Config with { TorchDtype = torchDtype }).ToJson();
}
