using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShareLoRA.Model.Config;

/// <summary>
/// The architecture of a Llama-family model, as a Hugging Face config.json (LlamaForCausalLM) describes it.
/// Loaded once and validated at load; errors name the file and the field.
/// </summary>
public sealed record LlamaConfig
{
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    /// <summary>Per-head dimension: config's head_dim when present, else hidden_size / num_attention_heads.</summary>
    public required int HeadDim { get; init; }
    public required int VocabSize { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    public RopeScaling? RopeScaling { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public string? TorchDtype { get; init; }

    /// <summary>For object initializers (<c>new LlamaConfig { HiddenSize = ..., ... }</c>).</summary>
    public LlamaConfig() { }

    /// <summary>Positional form, in config.json's order; parameter names match the properties.</summary>
    [SetsRequiredMembers]
    public LlamaConfig(int HiddenSize, int IntermediateSize, int NumHiddenLayers, int NumAttentionHeads, int NumKeyValueHeads,
        int HeadDim, int VocabSize, int MaxPositionEmbeddings = 2048, double RmsNormEps = 1e-6, double RopeTheta = 10000.0,
        RopeScaling? RopeScaling = null, bool TieWordEmbeddings = false, int? BosTokenId = null,
        IReadOnlyList<int>? EosTokenIds = null, string? TorchDtype = null)
    {
        this.HiddenSize = HiddenSize;
        this.IntermediateSize = IntermediateSize;
        this.NumHiddenLayers = NumHiddenLayers;
        this.NumAttentionHeads = NumAttentionHeads;
        this.NumKeyValueHeads = NumKeyValueHeads;
        this.HeadDim = HeadDim;
        this.VocabSize = VocabSize;
        this.MaxPositionEmbeddings = MaxPositionEmbeddings;
        this.RmsNormEps = RmsNormEps;
        this.RopeTheta = RopeTheta;
        this.RopeScaling = RopeScaling;
        this.TieWordEmbeddings = TieWordEmbeddings;
        this.BosTokenId = BosTokenId;
        this.EosTokenIds = EosTokenIds ?? [];
        this.TorchDtype = TorchDtype;
    }

    /// <summary>Query heads per key/value head (grouped-query attention).</summary>
    public int KeyValueGroups => NumAttentionHeads / NumKeyValueHeads;

    public static LlamaConfig Load(string configJsonPath)
    {
        if (!File.Exists(configJsonPath))
            throw new FileNotFoundException($"{configJsonPath}: config file not found", configJsonPath);
        return Parse(File.ReadAllText(configJsonPath), configJsonPath);
    }

    /// <summary>Parses config.json text; <paramref name="sourceName"/> names the file in error messages.</summary>
    public static LlamaConfig Parse(string json, string sourceName)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject
                ?? throw new InvalidDataException($"{sourceName}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{sourceName}: not valid JSON ({e.Message})");
        }
        var r = new ConfigJsonReader(root, sourceName);

        if (root["architectures"] is JsonArray archs)
        {
            var names = archs.Select(a => a?.GetValue<string>()).ToList();
            if (!names.Contains("LlamaForCausalLM"))
                throw new InvalidDataException($"{sourceName}: architectures must contain LlamaForCausalLM (got {string.Join(", ", names)})");
        }
        r.RequireModelType("llama");
        var act = r.OptString("hidden_act");
        if (act != null && act != "silu")
            throw new InvalidDataException($"{sourceName}: hidden_act must be \"silu\" (got \"{act}\")");
        foreach (var biasField in new[] { "attention_bias", "mlp_bias" })
            if (r.OptBool(biasField) == true)
                throw new InvalidDataException($"{sourceName}: {biasField} true is not supported (Llama has no biases)");

        var hidden = r.ReqPositiveInt("hidden_size");
        var heads = r.ReqPositiveInt("num_attention_heads");
        var kvHeads = r.OptInt("num_key_value_heads") ?? heads;
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw new InvalidDataException($"{sourceName}: num_key_value_heads must divide num_attention_heads {heads} (got {kvHeads})");
        var headDim = r.OptInt("head_dim");
        if (headDim == null)
        {
            if (hidden % heads != 0)
                throw new InvalidDataException($"{sourceName}: hidden_size {hidden} is not divisible by num_attention_heads {heads} and head_dim is absent");
            headDim = hidden / heads;
        }
        if (headDim <= 0 || headDim % 2 != 0)
            throw new InvalidDataException($"{sourceName}: head_dim must be a positive even number (got {headDim})");

        return new LlamaConfig
        {
            HiddenSize = hidden,
            IntermediateSize = r.ReqPositiveInt("intermediate_size"),
            NumHiddenLayers = r.ReqPositiveInt("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim.Value,
            VocabSize = r.ReqPositiveInt("vocab_size"),
            MaxPositionEmbeddings = r.OptInt("max_position_embeddings") ?? 2048,
            RmsNormEps = r.OptDouble("rms_norm_eps") ?? 1e-6,
            RopeTheta = r.OptDouble("rope_theta") ?? 10000.0,
            RopeScaling = ParseRopeScaling(root["rope_scaling"], sourceName),
            TieWordEmbeddings = r.OptBool("tie_word_embeddings") ?? false,
            BosTokenId = r.OptInt("bos_token_id"),
            EosTokenIds = r.OptIntOrList("eos_token_id"),
            TorchDtype = r.OptString("torch_dtype"),
        };
    }

    private static RopeScaling? ParseRopeScaling(JsonNode? node, string sourceName)
    {
        if (node == null) return null;
        if (node is not JsonObject obj)
            throw new InvalidDataException($"{sourceName}: rope_scaling must be an object or null");
        var r = new ConfigJsonReader(obj, sourceName, "rope_scaling.");
        var type = r.OptString("rope_type") ?? r.OptString("type")
            ?? throw new InvalidDataException($"{sourceName}: rope_scaling.rope_type is missing");
        switch (type)
        {
            case "default":
                return null;
            case "linear":
                return new RopeScaling("linear", r.ReqDouble("factor"));
            case "llama3":
                return new RopeScaling("llama3", r.ReqDouble("factor"), r.ReqDouble("low_freq_factor"),
                    r.ReqDouble("high_freq_factor"), r.ReqPositiveInt("original_max_position_embeddings"));
            default:
                throw new InvalidDataException($"{sourceName}: rope_scaling.rope_type \"{type}\" is not supported (expected linear or llama3)");
        }
    }

    /// <summary>The config as a Hugging Face config.json; <see cref="Parse"/> of it gives an equal record.</summary>
    public string ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("LlamaForCausalLM"),
            ["model_type"] = "llama",
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["vocab_size"] = VocabSize,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["rope_scaling"] = RopeScaling == null ? null : RopeScalingJson(RopeScaling),
            ["hidden_act"] = "silu",
            ["attention_bias"] = false,
            ["mlp_bias"] = false,
            ["tie_word_embeddings"] = TieWordEmbeddings,
        };
        if (TorchDtype != null) o["torch_dtype"] = TorchDtype;
        if (BosTokenId != null) o["bos_token_id"] = BosTokenId;
        if (EosTokenIds.Count == 1) o["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Count > 1) o["eos_token_id"] = new JsonArray(EosTokenIds.Select(i => (JsonNode)i).ToArray());
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static JsonObject RopeScalingJson(RopeScaling s)
    {
        var o = new JsonObject { ["rope_type"] = s.Type, ["factor"] = s.Factor };
        if (s.LowFreqFactor != null) o["low_freq_factor"] = s.LowFreqFactor;
        if (s.HighFreqFactor != null) o["high_freq_factor"] = s.HighFreqFactor;
        if (s.OriginalMaxPositionEmbeddings != null) o["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings;
        return o;
    }

    public bool Equals(LlamaConfig? other) =>
        other != null && HiddenSize == other.HiddenSize && IntermediateSize == other.IntermediateSize
        && NumHiddenLayers == other.NumHiddenLayers && NumAttentionHeads == other.NumAttentionHeads
        && NumKeyValueHeads == other.NumKeyValueHeads && HeadDim == other.HeadDim && VocabSize == other.VocabSize
        && MaxPositionEmbeddings == other.MaxPositionEmbeddings && RmsNormEps == other.RmsNormEps
        && RopeTheta == other.RopeTheta && Equals(RopeScaling, other.RopeScaling)
        && TieWordEmbeddings == other.TieWordEmbeddings && BosTokenId == other.BosTokenId
        && EosTokenIds.SequenceEqual(other.EosTokenIds) && TorchDtype == other.TorchDtype;

    public override int GetHashCode() => HashCode.Combine(HiddenSize, IntermediateSize, NumHiddenLayers, NumAttentionHeads, VocabSize);
}
