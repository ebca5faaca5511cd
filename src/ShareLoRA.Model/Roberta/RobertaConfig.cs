using System.Text.Json;
using System.Text.Json.Nodes;
using ShareLoRA.Model.Config;

namespace ShareLoRA.Model.Roberta;

/// <summary>
/// The architecture of a RoBERTa encoder with a sequence-classification head, as a Hugging Face config.json
/// (RobertaForSequenceClassification) describes it. <see cref="NumLabels"/> == 1 means regression (e.g. STS-B).
/// </summary>
public sealed record RobertaConfig(
    int VocabSize,
    int HiddenSize,
    int NumLayers,
    int NumHeads,
    int IntermediateSize,
    int MaxPositions = 514,
    int TypeVocabSize = 1,
    double LayerNormEps = 1e-5,
    int PadTokenId = 1,
    int NumLabels = 2,
    int BosTokenId = 0,
    int EosTokenId = 2,
    string? TorchDtype = null)
{
    public int HeadDim => HiddenSize / NumHeads;

    /// <summary>True when the head predicts one real value (mean squared error), false for classification.</summary>
    public bool IsRegression => NumLabels == 1;

    public static RobertaConfig Load(string configJsonPath) => Parse(ConfigJsonReader.Load(configJsonPath));

    /// <summary>Parses config.json text; <paramref name="sourceName"/> names the file in error messages.</summary>
    public static RobertaConfig Parse(string json, string sourceName) => Parse(ConfigJsonReader.Parse(json, sourceName));

    private static RobertaConfig Parse(ConfigJsonReader r)
    {
        r.RequireModelType("roberta");
        var act = r.OptString("hidden_act");
        if (act != null && act != "gelu")
            throw new InvalidDataException($"{r.Source}: hidden_act must be \"gelu\" (got \"{act}\")");
        var positionType = r.OptString("position_embedding_type");
        if (positionType != null && positionType != "absolute")
            throw new InvalidDataException($"{r.Source}: position_embedding_type must be \"absolute\" (got \"{positionType}\")");
        int hidden = r.ReqPositiveInt("hidden_size"), heads = r.ReqPositiveInt("num_attention_heads");
        if (hidden % heads != 0)
            throw new InvalidDataException($"{r.Source}: hidden_size {hidden} must be divisible by num_attention_heads {heads}");
        // HF derives num_labels from id2label; an explicit num_labels (as some configs write) wins.
        int labels = r.OptPositiveInt("num_labels") ?? (r.Root["id2label"] is JsonObject id2label ? id2label.Count : 2);
        if (labels <= 0) throw r.Bad("id2label", "a non-empty object", r.Root["id2label"]);
        return new RobertaConfig(
            VocabSize: r.ReqPositiveInt("vocab_size"),
            HiddenSize: hidden,
            NumLayers: r.ReqPositiveInt("num_hidden_layers"),
            NumHeads: heads,
            IntermediateSize: r.ReqPositiveInt("intermediate_size"),
            MaxPositions: r.OptPositiveInt("max_position_embeddings") ?? 514,
            TypeVocabSize: r.OptPositiveInt("type_vocab_size") ?? 1,
            LayerNormEps: r.OptPositiveDouble("layer_norm_eps") ?? 1e-5,
            PadTokenId: r.OptInt("pad_token_id") ?? 1,
            NumLabels: labels,
            BosTokenId: r.OptInt("bos_token_id") ?? 0,
            EosTokenId: r.OptInt("eos_token_id") ?? 2,
            TorchDtype: r.OptString("torch_dtype"));
    }

    /// <summary>The config as a Hugging Face config.json; <see cref="Parse(string, string)"/> of it gives an equal record.</summary>
    public string ToJson()
    {
        var id2label = new JsonObject();
        for (int i = 0; i < NumLabels; i++) id2label[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = $"LABEL_{i}";
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray("RobertaForSequenceClassification"),
            ["model_type"] = "roberta",
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["num_hidden_layers"] = NumLayers,
            ["num_attention_heads"] = NumHeads,
            ["intermediate_size"] = IntermediateSize,
            ["hidden_act"] = "gelu",
            ["max_position_embeddings"] = MaxPositions,
            ["type_vocab_size"] = TypeVocabSize,
            ["layer_norm_eps"] = LayerNormEps,
            ["pad_token_id"] = PadTokenId,
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenId,
            ["position_embedding_type"] = "absolute",
            ["id2label"] = id2label,
        };
        if (TorchDtype != null) o["torch_dtype"] = TorchDtype;
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
