using System.Text.Json;
using ShareLoRA.Model;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Roberta;

namespace ShareLoRA.Training.Planning;

/// <summary>
/// The shape of a transformer (no weights): enough to count parameters, FLOPs and bytes for planning.
/// Llama (the default <see cref="Family"/>): attention q, k, v, o (grouped-query when <see cref="NumKvHeads"/> &lt;
/// <see cref="NumHeads"/>), a SwiGLU MLP gate, up, down, two RMSNorm weights; no biases. GPT-2 and RoBERTa: q, k, v, o
/// and a two-matrix MLP (up = c_fc / intermediate, down = c_proj / output) with biases, two LayerNorms per layer,
/// learned positions (<see cref="MaxPositions"/>); GPT-2's head is tied, RoBERTa's is a classifier (<see cref="NumLabels"/>).
/// </summary>
public sealed record ModelShape(
    int HiddenSize,
    int IntermediateSize,
    int NumLayers,
    int NumHeads,
    int NumKvHeads,
    int HeadDim,
    int VocabSize,
    bool TiedEmbeddings)
{
    /// <summary>Which architecture; Llama unless built from a GPT-2 or RoBERTa config or preset.</summary>
    public ModelFamily Family { get; init; } = ModelFamily.Llama;

    /// <summary>Rows of the learned position table (GPT-2 n_positions, RoBERTa max_position_embeddings); 0 for Llama.</summary>
    public int MaxPositions { get; init; }

    /// <summary>RoBERTa token type rows (1 for roberta-base/large); 0 otherwise.</summary>
    public int TypeVocabSize { get; init; }

    /// <summary>RoBERTa classifier outputs (1 = regression); 0 for language models.</summary>
    public int NumLabels { get; init; }

    private bool IsLlama => Family == ModelFamily.Llama;

    /// <summary>Output width of q and input width of o: heads x head_dim.</summary>
    public int QueryDim => NumHeads * HeadDim;

    /// <summary>Output width of k and of v: kv_heads x head_dim.</summary>
    public int KvDim => NumKvHeads * HeadDim;

    /// <summary>(d_in, d_out) of a target module's linear map: y = W x with W of shape d_out x d_in.</summary>
    public (int DIn, int DOut) Dims(TargetModule module) => module switch
    {
        _ when !Family.SupportedTargets().Contains(module) => throw new ArgumentException(
            $"{Family.Name()} has no {module.ShortName()} module (adaptable: {string.Join(", ", Family.SupportedTargets().Select(m => m.ShortName()))})"),
        TargetModule.Q => (HiddenSize, QueryDim),
        TargetModule.K or TargetModule.V => (HiddenSize, KvDim),
        TargetModule.O => (QueryDim, HiddenSize),
        TargetModule.Gate or TargetModule.Up => (HiddenSize, IntermediateSize),
        TargetModule.Down => (IntermediateSize, HiddenSize),
        _ => throw new ArgumentOutOfRangeException(nameof(module)),
    };

    /// <summary>
    /// Frozen parameters of one layer. Llama: the seven linear maps plus two RMSNorm weights. GPT-2 / RoBERTa: q, k, v,
    /// o, up, down with their biases plus two LayerNorms (weight and bias).
    /// </summary>
    public long LayerParameters => IsLlama
        ? TargetModules.All.Sum(m => { var (i, o) = Dims(m); return (long)i * o; }) + 2L * HiddenSize
        : Family.SupportedTargets().Sum(m => { var (i, o) = Dims(m); return (long)i * o + o; }) + 4L * HiddenSize;

    /// <summary>
    /// What the first stage holds before the layers: the token table (vocab x hidden); GPT-2 adds the position
    /// table; RoBERTa adds the position and token type tables and the embedding LayerNorm.
    /// </summary>
    public long EmbeddingParameters => Family switch
    {
        ModelFamily.Gpt2 => ((long)VocabSize + MaxPositions) * HiddenSize,
        ModelFamily.Roberta => ((long)VocabSize + MaxPositions + TypeVocabSize) * HiddenSize + 2L * HiddenSize,
        _ => (long)VocabSize * HiddenSize,
    };

    /// <summary>RoBERTa's classifier (dense h x h + bias, out_proj labels x h + bias), which trains fully; 0 for the other families.</summary>
    public long ClassifierParameters => Family == ModelFamily.Roberta
        ? (long)HiddenSize * HiddenSize + HiddenSize + (long)NumLabels * HiddenSize + NumLabels
        : 0;

    /// <summary>
    /// The head as a separate stage holds it: final RMSNorm plus lm_head (vocab x hidden). With tied embeddings the
    /// lm_head is the embedding table, but a last stage that is not also the first stage still needs its own copy.
    /// </summary>
    /// <remarks>GPT-2: ln_f (weight and bias) plus the tied table's copy; RoBERTa: the classifier.</remarks>
    public long HeadParameters => Family switch
    {
        ModelFamily.Gpt2 => (long)VocabSize * HiddenSize + 2L * HiddenSize,
        ModelFamily.Roberta => ClassifierParameters,
        _ => (long)VocabSize * HiddenSize + HiddenSize,
    };

    /// <summary>Total parameters of the model as published (a tied lm_head counted once; RoBERTa with its classifier, no pooler).</summary>
    public long TotalParameters => Family switch
    {
        ModelFamily.Gpt2 => NumLayers * LayerParameters + EmbeddingParameters + 2L * HiddenSize,
        ModelFamily.Roberta => NumLayers * LayerParameters + EmbeddingParameters + ClassifierParameters,
        _ => NumLayers * LayerParameters + EmbeddingParameters + HiddenSize + (TiedEmbeddings ? 0 : (long)VocabSize * HiddenSize),
    };

    /// <summary>The shape of a GPT-2 config (tied head, learned positions).</summary>
    public static ModelShape FromGpt2(Gpt2Config c) =>
        new ModelShape(c.HiddenSize, c.InnerSize, c.NumLayers, c.NumHeads, c.NumHeads, c.HeadDim, c.VocabSize, true)
        {
            Family = ModelFamily.Gpt2,
            MaxPositions = c.MaxPositions,
        };

    /// <summary>The shape of a RoBERTa sequence-classification config.</summary>
    public static ModelShape FromRoberta(RobertaConfig c) =>
        new ModelShape(c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumHeads, c.HeadDim, c.VocabSize, false)
        {
            Family = ModelFamily.Roberta,
            MaxPositions = c.MaxPositions,
            TypeVocabSize = c.TypeVocabSize,
            NumLabels = c.NumLabels,
        };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that is not positive or not consistent.</summary>
    public ModelShape Validate(string source = "model shape")
    {
        Check(HiddenSize, "hidden_size"); Check(IntermediateSize, "intermediate_size"); Check(NumLayers, "num_hidden_layers");
        Check(NumHeads, "num_attention_heads"); Check(NumKvHeads, "num_key_value_heads"); Check(HeadDim, "head_dim");
        Check(VocabSize, "vocab_size");
        if (NumHeads % NumKvHeads != 0)
            throw new ArgumentException($"{source}: num_attention_heads ({NumHeads}) must be a multiple of num_key_value_heads ({NumKvHeads})");
        if (!IsLlama) Check(MaxPositions, "max_position_embeddings");
        if (Family == ModelFamily.Roberta) { Check(TypeVocabSize, "type_vocab_size"); Check(NumLabels, "num_labels"); }
        return this;

        void Check(int value, string field)
        {
            if (value <= 0) throw new ArgumentException($"{source}: {field} must be > 0 (got {value})");
        }
    }

    /// <summary>
    /// Reads the shape from a Hugging Face config.json (or a model directory holding one). model_type "gpt2" and
    /// "roberta" are read by <see cref="Gpt2Config"/> / <see cref="RobertaConfig"/>; anything else as Llama, with minimal parsing:
    /// hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, vocab_size (required);
    /// num_key_value_heads (default: num_attention_heads), head_dim (default: hidden_size / heads),
    /// tie_word_embeddings (default: false). Errors name the file and the field.
    /// </summary>
    public static ModelShape FromHfConfigJson(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: model config not found", path);

        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object at the top level");
            if (root.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String)
            {
                if (type.GetString() == "gpt2") return FromGpt2(Gpt2Config.Load(path)).Validate(path);
                if (type.GetString() == "roberta") return FromRoberta(RobertaConfig.Load(path)).Validate(path);
            }
            int hidden = Int("hidden_size"), intermediate = Int("intermediate_size"), layers = Int("num_hidden_layers");
            int heads = Int("num_attention_heads");
            var shape = new ModelShape(
                HiddenSize: hidden,
                IntermediateSize: intermediate,
                NumLayers: layers,
                NumHeads: heads,
                NumKvHeads: OptionalInt("num_key_value_heads") ?? heads,
                HeadDim: OptionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0),
                VocabSize: Int("vocab_size"),
                TiedEmbeddings: OptionalBool("tie_word_embeddings") ?? false);
            return shape.Validate(path);

            int Int(string field) => OptionalInt(field) ?? throw new InvalidDataException($"{path}: missing integer field '{field}'");

            int? OptionalInt(string field)
            {
                if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var i))
                    throw new InvalidDataException($"{path}: field '{field}' must be an integer (got {v.GetRawText()})");
                return i;
            }

            bool? OptionalBool(string field)
            {
                if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                return v.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw new InvalidDataException($"{path}: field '{field}' must be true or false (got {v.GetRawText()})"),
                };
            }
        }
    }
}
