namespace ShareLoRA.Model.Roberta;

/// <summary>
/// The one place that spells Hugging Face RobertaForSequenceClassification tensor names (Linear weights [out, in]).
/// Checkpoints of the bare RobertaModel lack the "roberta." prefix; loading accepts both.
/// </summary>
public static class RobertaKeys
{
    public const string Prefix = "roberta.";
    public const string WordEmbeddings = Prefix + "embeddings.word_embeddings.weight";
    public const string PositionEmbeddings = Prefix + "embeddings.position_embeddings.weight";
    public const string TokenTypeEmbeddings = Prefix + "embeddings.token_type_embeddings.weight";
    public const string EmbeddingNorm = Prefix + "embeddings.LayerNorm";

    /// <summary>Classification head: dense (h -> h, tanh) then out_proj (h -> num_labels); trained fully, never frozen.</summary>
    public const string ClassifierDense = "classifier.dense";
    public const string ClassifierOut = "classifier.out_proj";

    public static string Layer(int layer) => $"{Prefix}encoder.layer.{layer}.";

    public const string Query = "attention.self.query";
    public const string Key = "attention.self.key";
    public const string Value = "attention.self.value";
    public const string AttentionOutput = "attention.output.dense";
    public const string AttentionNorm = "attention.output.LayerNorm";
    public const string Intermediate = "intermediate.dense";
    public const string Output = "output.dense";
    public const string OutputNorm = "output.LayerNorm";

    /// <summary>The sub-modules of one encoder layer, each holding a weight and a bias, in checkpoint order.</summary>
    public static readonly IReadOnlyList<string> LayerModules =
        [Query, Key, Value, AttentionOutput, AttentionNorm, Intermediate, Output, OutputNorm];

    public static string Weight(string module) => module + ".weight";
    public static string Bias(string module) => module + ".bias";
    public static string Weight(int layer, string module) => Layer(layer) + module + ".weight";
    public static string Bias(int layer, string module) => Layer(layer) + module + ".bias";

    /// <summary>Every tensor name of one encoder layer.</summary>
    public static IEnumerable<string> LayerTensors(int layer) =>
        LayerModules.SelectMany(m => new[] { Weight(layer, m), Bias(layer, m) });
}
