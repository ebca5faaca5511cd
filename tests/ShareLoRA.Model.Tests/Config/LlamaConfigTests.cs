using ShareLoRA.Model.Config;
using ShareLoRA.Model.Tests.Llama;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Model.Tests.Config;

/// <summary>config.json parsing, round trip, and errors naming the file and field.</summary>
public class LlamaConfigTests
{
    private const string Minimal = """
        {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 172,
         "num_hidden_layers": 5, "num_attention_heads": 8, "vocab_size": 512}
        """;

    [SkippableFact]
    public void ParsesStories260K()
    {
        var c = LlamaConfig.Load(Path.Combine(SharedAssets.Stories260K, "config.json"));
        Assert.Equal(64, c.HiddenSize);
        Assert.Equal(172, c.IntermediateSize);
        Assert.Equal(5, c.NumHiddenLayers);
        Assert.Equal(8, c.NumAttentionHeads);
        Assert.Equal(4, c.NumKeyValueHeads);
        Assert.Equal(8, c.HeadDim);
        Assert.Equal(512, c.VocabSize);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Null(c.RopeScaling);
        Assert.True(c.TieWordEmbeddings);
        Assert.Equal(1, c.BosTokenId);
        Assert.Equal([2], c.EosTokenIds);
        Assert.Equal("float32", c.TorchDtype);
    }

    [Fact]
    public void DefaultsWhenOptionalFieldsAreAbsent()
    {
        var c = LlamaConfig.Parse(Minimal, "config.json");
        Assert.Equal(8, c.NumKeyValueHeads);
        Assert.Equal(8, c.HeadDim);
        Assert.False(c.TieWordEmbeddings);
        Assert.Empty(c.EosTokenIds);
        Assert.Null(c.BosTokenId);
    }

    [Fact]
    public void Llama3StyleConfigWithEosListAndRopeType()
    {
        var json = Minimal.TrimEnd().TrimEnd('}') + """
            , "eos_token_id": [128001, 128008, 128009], "bos_token_id": 128000, "torch_dtype": "bfloat16",
              "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                               "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0}
            """;
        var c = LlamaConfig.Parse(json, "config.json");
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
        Assert.Equal(new RopeScaling("llama3", 8, 1, 4, 8192), c.RopeScaling);
        Assert.Equal(c, LlamaConfig.Parse(c.ToJson(), "roundtrip"));

        var linear = LlamaConfig.Parse(Minimal.TrimEnd().TrimEnd('}') + ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}", "c.json");
        Assert.Equal(new RopeScaling("linear", 2), linear.RopeScaling);
    }

    [Theory]
    [MemberData(nameof(TinyConfigs.Names), MemberType = typeof(TinyConfigs))]
    public void ToJsonRoundTrips(string name)
    {
        var c = TinyConfigs.ByName(name) with { TorchDtype = "float32" };
        Assert.Equal(c, LlamaConfig.Parse(c.ToJson(), "x"));
    }

    [Theory]
    [InlineData("\"hidden_size\": 64,", "", "hidden_size")]
    [InlineData("\"vocab_size\": 512", "\"vocab_size\": \"big\"", "vocab_size")]
    [InlineData("\"LlamaForCausalLM\"", "\"MistralForCausalLM\"", "architectures")]
    [InlineData("\"model_type\": \"llama\"", "\"model_type\": \"gpt2\"", "model_type")]
    [InlineData("\"vocab_size\": 512", "\"vocab_size\": 512, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}", "rope_scaling.rope_type")]
    [InlineData("\"vocab_size\": 512", "\"vocab_size\": 512, \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 4}", "rope_scaling.low_freq_factor")]
    [InlineData("\"vocab_size\": 512", "\"vocab_size\": 512, \"num_key_value_heads\": 3", "num_key_value_heads")]
    [InlineData("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 0", "num_hidden_layers")]
    public void ErrorsNameTheFileAndField(string find, string replace, string field)
    {
        var json = Minimal.Replace(find, replace);
        var e = Assert.Throws<InvalidDataException>(() => LlamaConfig.Parse(json, "/models/x/config.json"));
        Assert.Contains("/models/x/config.json", e.Message);
        Assert.Contains(field, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => LlamaConfig.Load("/nonexistent/config.json"));
        Assert.Contains("/nonexistent/config.json", e.Message);
    }

    [Fact]
    public void PositionalAndInitializerFormsAgree()
    {
        var positional = new LlamaConfig(32, 48, 4, 4, 2, 8, 64, 128, 1e-5, 10000, null, true, 1, [2]);
        Assert.Equal(TinyConfigs.Gqa, positional);
        Assert.NotEqual(TinyConfigs.Gqa, positional with { EosTokenIds = [2, 3] });
    }
}
