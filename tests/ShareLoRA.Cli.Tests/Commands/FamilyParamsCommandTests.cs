using System.Text.Json;
using Xunit;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>`sharelora params` for the GPT-2 and RoBERTa presets: adapter counts and, for RoBERTa, the head apart.</summary>
[Collection("Console")]
public class FamilyParamsCommandTests
{
    [Theory]
    [InlineData("roberta-large", "8", "lora", 786_432L)]
    [InlineData("roberta-large", "8", "share-a", 409_600L)]
    [InlineData("roberta-large", "8", "share-ab", 32_768L)]
    public void Roberta_json_reports_adapter_and_head_apart(string preset, string rank, string method, long trainable)
    {
        var (code, stdout, stderr) = CliRun.Run("params", "--preset", preset, "--method", method, "--rank", rank, "--targets", "q,v", "--json");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(trainable, doc.RootElement.GetProperty("trainable").GetInt64());
        Assert.Equal(786_432L, doc.RootElement.GetProperty("lora_trainable").GetInt64());
        Assert.Equal(1_051_650L, doc.RootElement.GetProperty("head_trainable").GetInt64());
    }

    [Theory]
    [InlineData("lora", 393_216L)]
    [InlineData("share-a", 204_800L)]
    public void Gpt2_medium_defaults_to_q_and_v_and_has_no_head_entry(string method, long trainable)
    {
        var (code, stdout, _) = CliRun.Run("params", "--preset", "gpt2-medium", "--method", method, "--rank", "4", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(trainable, doc.RootElement.GetProperty("trainable").GetInt64());
        Assert.Equal(["method", "trainable", "lora_trainable", "reduction"], doc.RootElement.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void Text_output_names_the_head_and_num_labels_overrides_it()
    {
        var (code, stdout, _) = CliRun.Run("params", "--preset", "roberta-base", "--method", "share-a", "--rank", "8", "--num-labels", "1");
        Assert.Equal(0, code);
        Assert.Contains("(roberta, 12 layers, hidden 768", stdout);
        Assert.Contains("head_trainable  591,361 (classifier, 1 label, regression; trains fully, not in the counts above)", stdout);
    }

    [Fact]
    public void Unsupported_module_and_misplaced_num_labels_are_one_line_errors()
    {
        var (code, _, stderr) = CliRun.Run("params", "--preset", "gpt2-large", "--method", "lora", "--rank", "4", "--targets", "q,gate");
        Assert.Equal(2, code);
        Assert.Equal("error: gpt2 has no gate module (adaptable: q, k, v, o, up, down)", stderr.Trim());
        (code, _, stderr) = CliRun.Run("params", "--preset", "llama-7b", "--method", "lora", "--rank", "4", "--num-labels", "3");
        Assert.Equal(2, code);
        Assert.Equal("error: --num-labels applies to RoBERTa classifiers only (llama-7b is llama)", stderr.Trim());
    }
}
