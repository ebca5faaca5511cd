using System.Text.Json;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>Tests that swap Console.Out/Err; the collection keeps them from running in parallel with each other.</summary>
[CollectionDefinition("Console", DisableParallelization = true)]
public sealed class ConsoleCollection;

[Collection("Console")]
public class ParamsCommandTests
{
    [Theory]
    [InlineData("llama3-8b", "q,v", "lora", 27_262_976L)]
    [InlineData("llama3-8b", "q,v", "share-a", 11_010_048L)]
    [InlineData("llama3-8b", "q,v", "share-b", 17_104_896L)]
    [InlineData("llama3-8b", "q,v", "share-ab", 851_968L)]
    public void Json_for_the_llama3_8b_q_v_row(string preset, string targets, string method, long trainable)
    {
        var (code, stdout, stderr) = CliRun.Run("params", "--preset", preset, "--method", method, "--rank", "64", "--targets", targets, "--json");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(method, root.GetProperty("method").GetString());
        Assert.Equal(trainable, root.GetProperty("trainable").GetInt64());
        Assert.Equal(27_262_976L, root.GetProperty("lora_trainable").GetInt64());
        Assert.Equal(1.0 - trainable / 27_262_976.0, root.GetProperty("reduction").GetDouble(), 12);
        Assert.Equal(["method", "trainable", "lora_trainable", "reduction"], root.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Defaults_to_all_seven_modules()
    {
        var (code, stdout, _) = CliRun.Run("params", "--preset", "llama-7b", "--method", "share-a", "--rank", "64", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(89_309_184L, doc.RootElement.GetProperty("trainable").GetInt64());
        Assert.Equal(159_907_840L, doc.RootElement.GetProperty("lora_trainable").GetInt64());
    }

    [Fact]
    public void Text_output_shows_the_split_and_the_reduction()
    {
        var (code, stdout, _) = CliRun.Run("params", "--preset", "llama-13b", "--method", "share-ab", "--rank", "64");
        Assert.Equal(0, code);
        Assert.Contains("trainable       6,258,688 (6,258,688 shared + 40 x 0 per layer)", stdout);
        Assert.Contains("lora_trainable  250,347,520", stdout);
        Assert.Contains("reduction       97.5", stdout);
    }

    [Fact]
    public void Override_gives_the_self_attention_variant()
    {
        var (code, stdout, _) = CliRun.Run("params", "--preset", "llama-7b", "--method", "share-a", "--rank", "64",
            "--override", "o=lora", "--override", "gate=lora", "--override", "up=lora", "--override", "down=lora", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("q,k,v:share-a o,gate,up,down:lora", doc.RootElement.GetProperty("method").GetString());
        Assert.Equal(159_907_840L - 31L * 3 * 64 * 4096, doc.RootElement.GetProperty("trainable").GetInt64());
    }

    [Fact]
    public void Model_directory_reads_config_json()
    {
        var dir = Directory.CreateTempSubdirectory("sharelora-params-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"),
                """{"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256}""");
            var (code, stdout, _) = CliRun.Run("params", "--model", dir, "--method", "share-b", "--rank", "64", "--json");
            Assert.Equal(0, code);
            using var doc = JsonDocument.Parse(stdout);
            Assert.Equal(82_444_288L, doc.RootElement.GetProperty("trainable").GetInt64());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [SkippableFact]
    public void Shared_stories260K_model_directory()
    {
        var (code, stdout, _) = CliRun.Run("params", "--model", SharedAssets.Stories260K, "--method", "lora", "--rank", "2", "--targets", "q,v", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        // 5 layers x 2 x ((64 + 64) + (64 + 32)) for q (64 -> 64) and v (64 -> 4 kv heads x 8).
        Assert.Equal(5L * 2 * (128 + 96), doc.RootElement.GetProperty("trainable").GetInt64());
    }

    [Theory]
    [InlineData(new[] { "params", "--preset", "gpt-2", "--method", "lora", "--rank", "8" },
        "error: unknown model preset 'gpt-2'; known presets: llama-7b, llama-13b, llama2-7b, llama2-13b, llama3-8b, llama3-70b, gpt2, gpt2-medium, gpt2-large, roberta-base, roberta-large")]
    [InlineData(new[] { "params", "--preset", "llama-7b", "--method", "dora", "--rank", "8" },
        "error: adapter method must be one of lora, share-a, share-b, share-ab (got 'dora')")]
    [InlineData(new[] { "params", "--preset", "llama-7b", "--method", "lora", "--rank", "0" },
        "error: adapter rank must be > 0 (got 0)")]
    [InlineData(new[] { "params", "--method", "lora", "--rank", "8" },
        "error: params: give exactly one of --model DIR or --preset NAME")]
    [InlineData(new[] { "params", "--preset", "llama-7b", "--method", "lora", "--rank", "8", "--targets", "q,attn" },
        "error: adapter target must be one of q, k, v, o, gate, up, down (got 'attn')")]
    [InlineData(new[] { "params", "--preset", "llama-7b", "--method", "lora", "--rank", "8", "--override", "o" },
        "error: --override must be MODULE=METHOD, e.g. o=lora (got 'o')")]
    public void Bad_input_exits_2_with_one_line(string[] args, string expected)
    {
        var (code, stdout, stderr) = CliRun.Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal(expected, stderr.TrimEnd('\r', '\n'));
        Assert.DoesNotContain('\n', stderr.TrimEnd('\r', '\n'));
    }

    [Fact]
    public void Missing_model_directory_exits_2_naming_the_path()
    {
        var (code, _, stderr) = CliRun.Run("params", "--model", "/nonexistent/model", "--method", "lora", "--rank", "8");
        Assert.Equal(2, code);
        Assert.Equal("error: /nonexistent/model: model config not found", stderr.TrimEnd());
    }
}
