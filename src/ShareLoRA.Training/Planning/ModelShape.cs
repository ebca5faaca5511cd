using System.Text.Json;
using ShareLoRA.Model.Adapters;

namespace ShareLoRA.Training.Planning;

/// <summary>
/// The shape of a LLaMA-family decoder (no weights): enough to count parameters, FLOPs and bytes for planning.
/// Every layer is the same: attention q, k, v, o (grouped-query when <see cref="NumKvHeads"/> &lt; <see cref="NumHeads"/>),
/// a SwiGLU MLP gate, up, down, and two RMSNorm weight vectors; no biases.
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
    /// <summary>Output width of q and input width of o: heads x head_dim.</summary>
    public int QueryDim => NumHeads * HeadDim;

    /// <summary>Output width of k and of v: kv_heads x head_dim.</summary>
    public int KvDim => NumKvHeads * HeadDim;

    /// <summary>(d_in, d_out) of a target module's linear map: y = W x with W of shape d_out x d_in.</summary>
    public (int DIn, int DOut) Dims(TargetModule module) => module switch
    {
        TargetModule.Q => (HiddenSize, QueryDim),
        TargetModule.K or TargetModule.V => (HiddenSize, KvDim),
        TargetModule.O => (QueryDim, HiddenSize),
        TargetModule.Gate or TargetModule.Up => (HiddenSize, IntermediateSize),
        TargetModule.Down => (IntermediateSize, HiddenSize),
        _ => throw new ArgumentOutOfRangeException(nameof(module)),
    };

    /// <summary>Frozen parameters of one decoder layer: the seven linear maps plus two RMSNorm weights.</summary>
    public long LayerParameters =>
        TargetModules.All.Sum(m => { var (i, o) = Dims(m); return (long)i * o; }) + 2L * HiddenSize;

    /// <summary>Token embedding table, vocab x hidden (lives on the first stage).</summary>
    public long EmbeddingParameters => (long)VocabSize * HiddenSize;

    /// <summary>
    /// The head as a separate stage holds it: final RMSNorm plus lm_head (vocab x hidden). With tied embeddings the
    /// lm_head is the embedding table, but a last stage that is not also the first stage still needs its own copy.
    /// </summary>
    public long HeadParameters => (long)VocabSize * HiddenSize + HiddenSize;

    /// <summary>Total parameters of the model as published (a tied lm_head counted once).</summary>
    public long TotalParameters =>
        NumLayers * LayerParameters + EmbeddingParameters + HiddenSize + (TiedEmbeddings ? 0 : (long)VocabSize * HiddenSize);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first field that is not positive or not consistent.</summary>
    public ModelShape Validate(string source = "model shape")
    {
        Check(HiddenSize, "hidden_size"); Check(IntermediateSize, "intermediate_size"); Check(NumLayers, "num_hidden_layers");
        Check(NumHeads, "num_attention_heads"); Check(NumKvHeads, "num_key_value_heads"); Check(HeadDim, "head_dim");
        Check(VocabSize, "vocab_size");
        if (NumHeads % NumKvHeads != 0)
            throw new ArgumentException($"{source}: num_attention_heads ({NumHeads}) must be a multiple of num_key_value_heads ({NumKvHeads})");
        return this;

        void Check(int value, string field)
        {
            if (value <= 0) throw new ArgumentException($"{source}: {field} must be > 0 (got {value})");
        }
    }

    /// <summary>
    /// Reads the shape from a Hugging Face config.json (or a model directory holding one) with minimal parsing:
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
