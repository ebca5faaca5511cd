using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Gpt2;

/// <summary>
/// A GPT-2 causal language model (Hugging Face GPT2LMHeadModel), or a contiguous piece of one: optional embedding
/// (wte + wpe), blocks [FirstLayer, EndLayer), optional head (ln_f + tied lm_head). Base weights are frozen. The API
/// mirrors <see cref="LlamaModel"/>: Embed / ForwardLayers / Logits / Forward, the same <see cref="ModelLoadOptions"/>,
/// <see cref="KvCache"/> and <see cref="IModelAdapters"/>.
/// </summary>
public sealed class Gpt2Model : LayerRangeModel<Gpt2Config, Gpt2Embedding, Gpt2Block, Gpt2Head>
{
    /// <summary>
    /// Module types the adapter hook reaches: q, k, v (slices of c_attn), o (attn.c_proj), up (mlp.c_fc), down
    /// (mlp.c_proj). The paper's GPT-2 runs use q and v.
    /// </summary>
    public static IReadOnlyList<TargetModule> SupportedTargets => ModelFamily.Gpt2.SupportedTargets();

    private Gpt2Model(Gpt2Config config, ModelLoadOptions options, WeightSource weights) : base(nameof(Gpt2Model),
        config, config.NumLayers, options, ("embedding", "h", "head"),
        () =>
        {
            using var wte = weights(Gpt2Keys.TokenEmbedding, [config.VocabSize, config.HiddenSize]);
            using var wpe = weights(Gpt2Keys.PositionEmbedding, [config.MaxPositions, config.HiddenSize]);
            return new Gpt2Embedding(wte, wpe);
        },
        i => new Gpt2Block(config, i, weights),
        embedding =>
        {
            using var normW = weights(Gpt2Keys.FinalNormWeight, [config.HiddenSize]);
            using var normB = weights(Gpt2Keys.FinalNormBias, [config.HiddenSize]);
            // The head is tied to wte; a copy keeps each module the single owner of its parameters.
            using var output = embedding?.TokenWeight.clone() ?? weights(Gpt2Keys.TokenEmbedding, [config.VocabSize, config.HiddenSize]);
            return new Gpt2Head(new FrozenLayerNorm(normW, normB, config.LayerNormEps), output);
        })
    {
    }

    /// <summary>Loads the requested part of a Hugging Face GPT-2 directory (config.json + safetensors), reading only what that part needs.</summary>
    public static Gpt2Model Load(string dir, ModelLoadOptions options)
    {
        using var checkpoint = HfCheckpoint.OpenTensors(dir);
        return Load(checkpoint, options);
    }

    /// <summary>Loads from an open checkpoint (see <see cref="HfCheckpoint.OpenTensors"/>); config.json is read from its directory.</summary>
    public static Gpt2Model Load(HfCheckpoint checkpoint, ModelLoadOptions options)
    {
        var config = Gpt2Config.Load(Path.Combine(checkpoint.Directory, "config.json"));
        return new Gpt2Model(config, options, FamilyWeights.FromCheckpoint(checkpoint, Gpt2Keys.Prefix, options.DType, torch.device(options.Device)));
    }

    /// <summary>
    /// A model with small random weights (see <see cref="LlamaModel.CreateRandom"/>): each tensor depends only on the
    /// seed and its name, so a layer range built with the same seed holds exactly the whole model's weights.
    /// </summary>
    public static Gpt2Model CreateRandom(Gpt2Config config, long seed, ModelLoadOptions? options = null, double initStd = 0.02)
    {
        options ??= new ModelLoadOptions();
        return new Gpt2Model(config, options, FamilyWeights.Random(seed, options.DType, torch.device(options.Device), initStd,
            name => name.Contains(".ln_", StringComparison.Ordinal)));
    }

    /// <summary>[b, s] token ids at positions [startPosition, startPosition + s) -> [b, s, h]. Needs the embedding.</summary>
    public Tensor Embed(Tensor inputIds, int startPosition = 0)
    {
        if (Embedding is null) throw new InvalidOperationException("this model part has no embedding (IncludeEmbedding was false)");
        if (inputIds.dim() != 2) throw new ArgumentException($"input ids must be [batch, seq] (got {inputIds.dim()} dims)");
        return Embedding.Forward(inputIds, startPosition);
    }

    /// <summary>
    /// Runs blocks [FirstLayer, EndLayer) on hidden [b, s, h]. Positions only matter to the embedding, so
    /// <paramref name="startPosition"/> here just checks the cache.
    /// </summary>
    /// <param name="cache">When given, must already hold exactly startPosition positions; new keys/values are appended.</param>
    /// <param name="attentionMask">Optional [b, s] (or [b, cached + s]) 1/0 padding mask, right padding; combined with causal.</param>
    public Tensor ForwardLayers(Tensor hidden, int startPosition = 0, KvCache? cache = null, IModelAdapters? adapters = null, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        CheckHidden(hidden, Config.HiddenSize);
        CheckCachePosition(startPosition, cache);

        long past = cache is not null ? startPosition : 0;
        var mask = LlamaModel.BuildMask(hidden.shape[0], hidden.shape[1], past, attentionMask, hidden.device);
        var x = hidden;
        foreach (var block in RangeLayers)
            x = block.Forward(x, cache, adapters?.ForLayer(block.LayerIndex), mask);
        return (ReferenceEquals(x, hidden) ? hidden.alias() : x).MoveToOuterDisposeScope();
    }

    /// <summary>[b, s, h] -> [b, s, vocab] through ln_f and the tied head. Needs the head.</summary>
    public Tensor Logits(Tensor hidden)
    {
        if (Head is null) throw new InvalidOperationException("this model part has no head (IncludeHead was false)");
        return Head.Forward(hidden);
    }

    /// <summary>Token ids [b, s] -> logits [b, s, vocab]. Needs the embedding and the head.</summary>
    public Tensor Forward(Tensor inputIds, int startPosition = 0, KvCache? cache = null, IModelAdapters? adapters = null, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        var hidden = Embed(inputIds, startPosition);
        hidden = ForwardLayers(hidden, startPosition, cache, adapters, attentionMask);
        return Logits(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>(d_in, d_out) of each adaptable module type, for an <see cref="AdapterLayout"/>.</summary>
    public static IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> AdapterDims(Gpt2Config c) =>
        AdapterLayout.FullAttentionDims(c.HiddenSize, c.InnerSize);

    /// <summary>Base weights under their Hugging Face names (the tied head is not written).</summary>
    public override IEnumerable<KeyValuePair<string, Tensor>> HfTensors()
    {
        if (Embedding is not null)
        {
            yield return new(Gpt2Keys.TokenEmbedding, Embedding.TokenWeight);
            yield return new(Gpt2Keys.PositionEmbedding, Embedding.PositionWeight);
        }
        foreach (var block in RangeLayers)
            foreach (var t in block.HfTensors()) yield return t;
        if (Head is not null)
        {
            yield return new(Gpt2Keys.FinalNormWeight, Head.Norm.Weight);
            yield return new(Gpt2Keys.FinalNormBias, Head.Norm.Bias);
        }
    }

    protected override string ConfigJson(string torchDtype) => (Config with { TorchDtype = torchDtype }).ToJson();
}
