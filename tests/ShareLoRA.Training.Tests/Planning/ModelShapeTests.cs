using Xunit;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Planning;
using ShareLoRA.TestSupport;

namespace ShareLoRA.Training.Tests.Planning;

public class ModelShapeTests
{
    [Fact]
    public void Dims_of_llama3_8b_follow_grouped_query_attention()
    {
        var s = ModelPresets.Get("llama3-8b");
        Assert.Equal((4096, 4096), s.Dims(TargetModule.Q));
        Assert.Equal((4096, 1024), s.Dims(TargetModule.K));
        Assert.Equal((4096, 1024), s.Dims(TargetModule.V));
        Assert.Equal((4096, 4096), s.Dims(TargetModule.O));
        Assert.Equal((4096, 14336), s.Dims(TargetModule.Gate));
        Assert.Equal((4096, 14336), s.Dims(TargetModule.Up));
        Assert.Equal((14336, 4096), s.Dims(TargetModule.Down));
    }

    [Fact]
    public void Dims_use_heads_times_head_dim_not_hidden_size()
    {
        // A shape where heads x head_dim != hidden (as some HF configs allow) must route q/o through heads x head_dim.
        var s = new ModelShape(HiddenSize: 64, IntermediateSize: 100, NumLayers: 2, NumHeads: 4, NumKvHeads: 2, HeadDim: 24, VocabSize: 10, TiedEmbeddings: false);
        Assert.Equal((64, 96), s.Dims(TargetModule.Q));
        Assert.Equal((64, 48), s.Dims(TargetModule.V));
        Assert.Equal((96, 64), s.Dims(TargetModule.O));
        Assert.Equal((100, 64), s.Dims(TargetModule.Down));
    }

    [Theory]
    // Published parameter counts of the Hugging Face checkpoints.
    [InlineData("llama-7b", 6_738_415_616L)]
    [InlineData("llama2-7b", 6_738_415_616L)]
    [InlineData("llama-13b", 13_015_864_320L)]
    [InlineData("llama2-13b", 13_015_864_320L)]
    [InlineData("llama3-8b", 8_030_261_248L)]
    [InlineData("llama3-70b", 70_553_706_496L)]
    public void Total_parameters_match_the_published_checkpoints(string preset, long expected) =>
        Assert.Equal(expected, ModelPresets.Get(preset).TotalParameters);

    [Fact]
    public void Per_layer_embedding_and_head_counts_of_llama3_8b()
    {
        var s = ModelPresets.Get("llama3-8b");
        Assert.Equal(218_112_000L, s.LayerParameters);
        Assert.Equal(525_336_576L, s.EmbeddingParameters);
        Assert.Equal(525_336_576L + 4096, s.HeadParameters);
    }

    [Fact]
    public void Presets_have_the_documented_shapes()
    {
        Assert.Equal(new ModelShape(8192, 28672, 80, 64, 8, 128, 128256, false), ModelPresets.Get("llama3-70b"));
        Assert.Equal(32000, ModelPresets.Get("llama2-13b").VocabSize);
        Assert.Equal(128256, ModelPresets.Get("LLaMA3-8B").VocabSize);
        Assert.Equal(["llama-7b", "llama-13b", "llama2-7b", "llama2-13b", "llama3-8b", "llama3-70b", "gpt2", "gpt2-medium", "gpt2-large", "roberta-base", "roberta-large"], ModelPresets.Names);
    }

    [Fact]
    public void Unknown_preset_lists_the_known_names_in_one_line()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelPresets.Get("gpt-2"));
        Assert.Equal("unknown model preset 'gpt-2'; known presets: llama-7b, llama-13b, llama2-7b, llama2-13b, llama3-8b, llama3-70b, gpt2, gpt2-medium, gpt2-large, roberta-base, roberta-large", e.Message);
    }

    [Fact]
    public void FromHfConfigJson_reads_fields_and_defaults()
    {
        using var dir = new TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "config.json"),
            """{"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32, "vocab_size": 32000, "rms_norm_eps": 1e-6}""");
        Assert.Equal(ModelPresets.Get("llama-7b"), ModelShape.FromHfConfigJson(dir.Path));
        Assert.Equal(ModelPresets.Get("llama-7b"), ModelShape.FromHfConfigJson(Path.Combine(dir.Path, "config.json")));
    }

    [Theory]
    [InlineData("""{"hidden_size": 64}""", "missing integer field 'intermediate_size'")]
    [InlineData("""{"hidden_size": "64", "intermediate_size": 1}""", "field 'hidden_size' must be an integer (got \"64\")")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8, "num_key_value_heads": 3, "vocab_size": 512}""",
        "num_attention_heads (8) must be a multiple of num_key_value_heads (3)")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 0, "num_attention_heads": 8, "vocab_size": 512}""",
        "num_hidden_layers must be > 0 (got 0)")]
    [InlineData("""{"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5, "num_attention_heads": 8, "vocab_size": 512, "tie_word_embeddings": 1}""",
        "field 'tie_word_embeddings' must be true or false (got 1)")]
    [InlineData("""{"hidden_size": 64,""", "not valid JSON")]
    public void FromHfConfigJson_errors_name_the_file_and_field(string json, string expected)
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "config.json");
        File.WriteAllText(path, json);
        var e = Assert.ThrowsAny<Exception>(() => ModelShape.FromHfConfigJson(path));
        Assert.True(e is InvalidDataException or ArgumentException, e.GetType().Name);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void FromHfConfigJson_missing_file_names_the_path()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => ModelShape.FromHfConfigJson(dir.Path));
        Assert.Equal(Path.Combine(dir.Path, "config.json") + ": model config not found", e.Message);
    }

    [SkippableFact]
    public void FromHfConfigJson_reads_the_shared_stories260K_config()
    {
        var shape = ModelShape.FromHfConfigJson(SharedAssets.Stories260K);
        Assert.Equal(new ModelShape(64, 172, 5, 8, 4, 8, 512, true), shape);
        Assert.Equal((64, 32), shape.Dims(TargetModule.K));
    }

    /// <summary>A temporary directory deleted on dispose.</summary>
    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("sharelora-plan-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
