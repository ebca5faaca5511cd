using System.Text.Json;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>`sharelora generate` and `sharelora score` on stories260K, run as a process, against the llama2.c goldens.</summary>
public class GenerateAndScoreCommandTests
{
    private static readonly int[] OnceUponATime = [1, 403, 407, 261, 378];
    private static readonly int[] Greedy16 = [432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337];

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [SkippableFact]
    public void GenerateJsonFromPromptTextReproducesTheGolden()
    {
        var model = SharedAssets.Stories260K;
        var r = CliProcess.Run("generate", "--model", model, "--prompt", "Once upon a time", "--max-new-tokens", "16", "--temperature", "0", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        Assert.Equal(OnceUponATime, Ints(doc.RootElement.GetProperty("prompt_ids")));
        Assert.Equal(Greedy16, Ints(doc.RootElement.GetProperty("token_ids")));
        Assert.Equal(", there was a little girl named Lily. She loved to play", doc.RootElement.GetProperty("text").GetString());
    }

    [SkippableFact]
    public void GeneratePlainFromPromptIdsPrintsTheText()
    {
        var model = SharedAssets.Stories260K;
        var r = CliProcess.Run("generate", "--model", model, "--prompt-ids", "1,403,407,261,378", "--max-new-tokens", "16", "--temperature", "0");
        Assert.True(r.ExitCode == 0, r.StdErr);
        Assert.Equal("Once upon a time, there was a little girl named Lily. She loved to play", r.StdOut.TrimEnd('\n'));
    }

    [SkippableFact]
    public void SampledGenerationIsRepeatableForASeed()
    {
        var model = SharedAssets.Stories260K;
        string[] args = ["generate", "--model", model, "--prompt", "Lily", "--max-new-tokens", "12", "--temperature", "0.9", "--top-p", "0.9", "--seed", "5", "--json"];
        var a = CliProcess.Run(args);
        var b = CliProcess.Run(args);
        Assert.True(a.ExitCode == 0, a.StdErr);
        Assert.Equal(a.StdOut, b.StdOut);
    }

    [SkippableFact]
    public void ScoreJsonGivesOneLogProbPerPredictedToken()
    {
        var model = SharedAssets.Stories260K;
        var r = CliProcess.Run("score", "--model", model, "--text", "Once upon a time", "--json");
        Assert.True(r.ExitCode == 0, r.StdErr);
        using var doc = JsonDocument.Parse(r.StdOut);
        Assert.Equal(OnceUponATime, Ints(doc.RootElement.GetProperty("token_ids")));
        var logprobs = doc.RootElement.GetProperty("logprobs").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        Assert.Equal(4, logprobs.Length);
        Assert.All(logprobs, lp => Assert.True(lp < 0));
        double nll = doc.RootElement.GetProperty("nll").GetDouble();
        Assert.Equal(-logprobs.Average(), nll, 1e-9);
        Assert.Equal(Math.Exp(nll), doc.RootElement.GetProperty("perplexity").GetDouble(), 1e-9);

        var byIds = CliProcess.Run("score", "--model", model, "--token-ids", "1,403,407,261,378", "--json");
        Assert.Equal(r.StdOut, byIds.StdOut);
    }

    [SkippableTheory]
    [InlineData("missing-model", "directory not found")]
    [InlineData("bad-ids", "--prompt-ids")]
    [InlineData("out-of-vocab", "outside the model's vocabulary")]
    [InlineData("both-prompts", "exactly one of --prompt or --prompt-ids")]
    [InlineData("bad-number", "--max-new-tokens")]
    [InlineData("bad-top-p", "--top-p")]
    [InlineData("score-one-token", "at least 2 tokens")]
    public void BadArgumentsGiveOneLineAndExitCode2(string kind, string expected)
    {
        var model = SharedAssets.Stories260K;
        string[] common = ["--max-new-tokens", "4", "--temperature", "0"];
        string[] args = kind switch
        {
            "missing-model" => ["generate", "--model", "/nonexistent/model", "--prompt", "x", .. common],
            "bad-ids" => ["generate", "--model", model, "--prompt-ids", "1,two", .. common],
            "out-of-vocab" => ["generate", "--model", model, "--prompt-ids", "1,9999", .. common],
            "both-prompts" => ["generate", "--model", model, "--prompt", "x", "--prompt-ids", "1", .. common],
            "bad-number" => ["generate", "--model", model, "--prompt", "x", "--max-new-tokens", "many", "--temperature", "0"],
            "bad-top-p" => ["generate", "--model", model, "--prompt", "x", "--top-p", "1.5", .. common],
            _ => ["score", "--model", model, "--token-ids", "1"],
        };
        var r = CliProcess.Run(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.StdOut);
        var lines = r.StdErr.TrimEnd('\n').Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
    }

    [Fact]
    public void BadConfigIsOneLineNamingTheFile()
    {
        var dir = Path.Combine(Path.GetTempPath(), "sharelora-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 8, \"num_attention_heads\": 2, \"num_hidden_layers\": 1, \"vocab_size\": 8}");
            var r = CliProcess.Run("score", "--model", dir, "--token-ids", "1,2");
            Assert.Equal(2, r.ExitCode);
            Assert.Single(r.StdErr.TrimEnd('\n').Split('\n'));
            Assert.Contains(Path.Combine(dir, "config.json"), r.StdErr);
            Assert.Contains("intermediate_size", r.StdErr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
