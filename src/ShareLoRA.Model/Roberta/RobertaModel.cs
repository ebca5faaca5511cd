using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Roberta;

/// <summary>
/// RoBERTa for sequence classification (Hugging Face RobertaForSequenceClassification), or a contiguous piece of it:
/// optional embeddings, encoder layers [FirstLayer, EndLayer), optional classification head. The encoder is frozen;
/// the head is trainable. The API mirrors <see cref="LlamaModel"/>: Embed / ForwardLayers / Logits / Forward with the
/// same <see cref="ModelLoadOptions"/> and <see cref="IModelAdapters"/>; attention is bidirectional with a padding mask.
/// </summary>
public sealed class RobertaModel : LayerRangeModel<RobertaConfig, RobertaEmbeddings, RobertaLayer, RobertaClassificationHead>
{
    /// <summary>Module types the adapter hook reaches: q, k, v, o (attention), up (intermediate.dense), down (output.dense). The paper uses q, v.</summary>
    public static IReadOnlyList<TargetModule> SupportedTargets => ModelFamily.Roberta.SupportedTargets();

    /// <summary>False when the checkpoint had no classifier (a pre-trained encoder): the head was freshly initialized.</summary>
    public bool HeadFromCheckpoint { get; }

    private RobertaModel(RobertaConfig config, ModelLoadOptions options, WeightSource weights, WeightSource? headWeights) : base(nameof(RobertaModel),
        config, config.NumLayers, options, ("embeddings", "layer", "classifier"),
        () => new RobertaEmbeddings(config, weights),
        i => new RobertaLayer(config, i, weights),
        _ =>
        {
            var source = headWeights ?? weights;
            long h = config.HiddenSize;
            using var dw = source(RobertaKeys.Weight(RobertaKeys.ClassifierDense), [h, h]);
            using var db = source(RobertaKeys.Bias(RobertaKeys.ClassifierDense), [h]);
            using var ow = source(RobertaKeys.Weight(RobertaKeys.ClassifierOut), [config.NumLabels, h]);
            using var ob = source(RobertaKeys.Bias(RobertaKeys.ClassifierOut), [config.NumLabels]);
            return new RobertaClassificationHead(dw, db, ow, ob, options.DType == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32);
        })
    {
        HeadFromCheckpoint = options.IncludeHead && headWeights is null;
    }

    /// <summary>Loads the requested part of a Hugging Face RoBERTa directory (config.json + safetensors).</summary>
    /// <param name="headSeed">Seeds the classifier when the checkpoint has none (HF init: normal std 0.02, zero bias).</param>
    public static RobertaModel Load(string dir, ModelLoadOptions options, long headSeed = 0)
    {
        using var checkpoint = HfCheckpoint.OpenTensors(dir);
        return Load(checkpoint, options, headSeed);
    }

    /// <summary>Loads from an open checkpoint (see <see cref="HfCheckpoint.OpenTensors"/>); config.json is read from its directory.</summary>
    public static RobertaModel Load(HfCheckpoint checkpoint, ModelLoadOptions options, long headSeed = 0)
    {
        var config = RobertaConfig.Load(Path.Combine(checkpoint.Directory, "config.json"));
        var device = torch.device(options.Device);
        var weights = FamilyWeights.FromCheckpoint(checkpoint, RobertaKeys.Prefix, options.DType, device);
        bool hasHead = checkpoint.Contains(RobertaKeys.Weight(RobertaKeys.ClassifierDense));
        return new RobertaModel(config, options, weights, hasHead ? null : FreshHead(headSeed, device));
    }

    /// <summary>
    /// A model with small random weights, each tensor a function of the seed and its name only (layer ranges hold
    /// exactly the whole model's weights). LayerNorm weights 1 + 0.1 N(0,1), biases and everything else std <paramref name="initStd"/>.
    /// </summary>
    public static RobertaModel CreateRandom(RobertaConfig config, long seed, ModelLoadOptions? options = null, double initStd = 0.02)
    {
        options ??= new ModelLoadOptions();
        return new RobertaModel(config, options, FamilyWeights.Random(seed, options.DType, torch.device(options.Device), initStd,
            name => name.Contains("LayerNorm", StringComparison.Ordinal)), headWeights: null);
    }

    // HF _init_weights for a missing classifier: Linear weights normal(0, 0.02), biases zero.
    private static WeightSource FreshHead(long seed, Device device) => (name, shape) =>
    {
        if (name.EndsWith(".bias", StringComparison.Ordinal)) return zeros(shape, ScalarType.Float32, device);
        using var generator = new Generator(unchecked((ulong)seed ^ (name.Contains("out_proj") ? 0x5DEECE66DUL : 0xB5AD4ECEDA1CE2A9UL)), CPU);
        using var draw = randn(shape, ScalarType.Float32, CPU, requires_grad: false, generator: generator);
        using var scaled = draw.MulScalar(0.02);
        return scaled.to(device);
    };

    /// <summary>[b, s] token ids (and optional [b, s] token types) -> [b, s, h]. Needs the embeddings.</summary>
    public Tensor Embed(Tensor inputIds, Tensor? tokenTypeIds = null)
    {
        if (Embedding is null) throw new InvalidOperationException("this model part has no embeddings (IncludeEmbedding was false)");
        if (inputIds.dim() != 2) throw new ArgumentException($"input ids must be [batch, seq] (got {inputIds.dim()} dims)");
        return Embedding.Forward(inputIds, tokenTypeIds);
    }

    /// <summary>Runs encoder layers [FirstLayer, EndLayer) on hidden [b, s, h].</summary>
    /// <param name="attentionMask">Optional [b, s] 1/0 mask: keys at 0 (padding) are never attended.</param>
    public Tensor ForwardLayers(Tensor hidden, Tensor? attentionMask = null, IModelAdapters? adapters = null)
    {
        using var scope = NewDisposeScope();
        CheckHidden(hidden, Config.HiddenSize);
        Tensor? mask = null;
        if (attentionMask is not null)
        {
            if (attentionMask.dim() != 2 || attentionMask.shape[0] != hidden.shape[0] || attentionMask.shape[1] != hidden.shape[1])
                throw new ArgumentException($"attention mask must be [{hidden.shape[0]}, {hidden.shape[1]}] (got [{string.Join(", ", attentionMask.shape)}])");
            mask = attentionMask.to(hidden.device).NeScalar(0).view(hidden.shape[0], 1, 1, hidden.shape[1]);   // [b, 1, 1, s]
        }
        var x = hidden;
        foreach (var l in RangeLayers)
            x = l.Forward(x, adapters?.ForLayer(l.LayerIndex), mask);
        return (ReferenceEquals(x, hidden) ? hidden.alias() : x).MoveToOuterDisposeScope();
    }

    /// <summary>[b, s, h] -> [b, num_labels] from the &lt;s&gt; token, in the head's dtype (float32). Needs the head.</summary>
    public Tensor Logits(Tensor hidden)
    {
        if (Head is null) throw new InvalidOperationException("this model part has no classification head (IncludeHead was false)");
        return Head.Forward(hidden);
    }

    /// <summary>Token ids [b, s] -> [b, num_labels]. Needs the embeddings and the head.</summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? tokenTypeIds = null, IModelAdapters? adapters = null)
    {
        using var scope = NewDisposeScope();
        var hidden = ForwardLayers(Embed(inputIds, tokenTypeIds), attentionMask, adapters);
        return Logits(hidden).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// HF's loss for this head: mean squared error against float labels [b] when num_labels == 1 (regression),
    /// otherwise cross-entropy against class ids [b].
    /// </summary>
    public static Tensor Loss(Tensor logits, Tensor labels, int numLabels)
    {
        using var scope = NewDisposeScope();
        var loss = numLabels == 1
            ? mse_loss(logits.view(-1), labels.to_type(logits.dtype).view(-1))
            : cross_entropy(logits.view(-1, numLabels), labels.to(ScalarType.Int64).view(-1));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Freezes every encoder weight; the classification head stays trainable.</summary>
    public override void Freeze()
    {
        var head = Head?.parameters().ToHashSet() ?? [];
        foreach (var p in parameters()) p.requires_grad = head.Contains(p);
    }

    /// <summary>The trainable classifier tensors under their HF names (empty without the head).</summary>
    public IEnumerable<KeyValuePair<string, Parameter>> HeadParameters() =>
        Head?.NamedParameters() ?? [];

    /// <summary>(d_in, d_out) of each adaptable module type, for an <see cref="AdapterLayout"/>.</summary>
    public static IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> AdapterDims(RobertaConfig c) =>
        AdapterLayout.FullAttentionDims(c.HiddenSize, c.IntermediateSize);

    /// <summary>Weights under their Hugging Face names (the classifier included when held).</summary>
    public override IEnumerable<KeyValuePair<string, Tensor>> HfTensors()
    {
        if (Embedding is not null)
        {
            yield return new(RobertaKeys.WordEmbeddings, Embedding.WordWeight);
            yield return new(RobertaKeys.PositionEmbeddings, Embedding.PositionWeight);
            yield return new(RobertaKeys.TokenTypeEmbeddings, Embedding.TokenTypeWeight);
            yield return new(RobertaKeys.Weight(RobertaKeys.EmbeddingNorm), Embedding.Norm.Weight);
            yield return new(RobertaKeys.Bias(RobertaKeys.EmbeddingNorm), Embedding.Norm.Bias);
        }
        foreach (var l in RangeLayers)
            foreach (var t in l.HfTensors()) yield return t;
        foreach (var (name, p) in HeadParameters()) yield return new(name, p);
    }

    protected override string ConfigJson(string torchDtype) => (Config with { TorchDtype = torchDtype }).ToJson();
}
