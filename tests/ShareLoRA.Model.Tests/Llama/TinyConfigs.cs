using ShareLoRA.Model.Config;

namespace ShareLoRA.Model.Tests.Llama;

/// <summary>Small random-model configurations covering the architecture's variants.</summary>
public static class TinyConfigs
{
    public static LlamaConfig Gqa => new()
    {
        HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 4, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 8, VocabSize = 64, MaxPositionEmbeddings = 128, RmsNormEps = 1e-5, RopeTheta = 10000,
        TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = [2],
    };

    /// <summary>Llama-3.1 style: llama3 rope scaling with a short original context so all three frequency bands occur.</summary>
    public static LlamaConfig Llama3Scaling => Gqa with
    {
        NumAttentionHeads = 8, NumKeyValueHeads = 2, HeadDim = 16, RopeTheta = 500000,
        RopeScaling = new RopeScaling("llama3", 8.0, 1.0, 4.0, 64), TieWordEmbeddings = false,
    };

    public static LlamaConfig LinearScaling => Gqa with { RopeScaling = new RopeScaling("linear", 4.0), NumKeyValueHeads = 4 };

    /// <summary>Untied head, multi-head (kv heads = heads), head_dim not hidden/heads.</summary>
    public static LlamaConfig Untied => Gqa with { TieWordEmbeddings = false, NumKeyValueHeads = 4, HeadDim = 6, NumHiddenLayers = 3 };

    public static LlamaConfig ByName(string name) => name switch
    {
        "gqa" => Gqa,
        "llama3" => Llama3Scaling,
        "linear" => LinearScaling,
        "untied" => Untied,
        _ => throw new ArgumentException(name),
    };

    public static IEnumerable<object[]> Names() => new[] { "gqa", "llama3", "linear", "untied" }.Select(n => new object[] { n });
}
