using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Generation;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Llama;
using ShareLoRA.TestSupport;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>generate/score --adapter, merge and export through <see cref="CliApp.Run"/> on a saved tiny model and adapter.</summary>
[Collection("Console")]
public sealed class AdapterCommandsTests(TinyModelFixture tiny) : IClassFixture<TinyModelFixture>
{
    private static readonly int[] Ids = [1, 300, 17, 511, 42, 8, 8, 250, 2, 99];
    private static string IdsText => string.Join(",", Ids);

    private static double[] LogProbs(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("logprobs").EnumerateArray().Select(e => e.GetDouble()).ToArray();
    }

    private static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var d = (a - b).abs().max();
        return d.item<float>();
    }

    private static Tensor Logits(LlamaModel model, IModelAdapters? adapters)
    {
        using var ids = tensor(Ids.Select(i => (long)i).ToArray()).view(1, Ids.Length);
        using var noGrad = no_grad();
        return model.Forward(ids, adapters: adapters);
    }

    [Fact]
    public void ScoreWithAdapterDiffersFromTheBaseAndEqualsTheInProcessAdaptedModel()
    {
        var (code, stdout, stderr) = CliRun.Run("score", "--model", tiny.ModelDir, "--token-ids", IdsText, "--json");
        Assert.True(code == 0, stderr);
        var baseLogProbs = LogProbs(stdout);
        (code, stdout, stderr) = CliRun.Run("score", "--model", tiny.ModelDir, "--adapter", tiny.RunDir, "--token-ids", IdsText, "--json");
        Assert.True(code == 0, stderr);
        var adapted = LogProbs(stdout);

        Assert.Equal(Scorer.Score(tiny.Model, Ids).LogProbs, baseLogProbs);
        Assert.Equal(Scorer.Score(tiny.Model, Ids, tiny.Bank).LogProbs, adapted);
        Assert.True(adapted.Zip(baseLogProbs, (a, b) => Math.Abs(a - b)).Max() > 1e-3, "the adapter did not change the scores");
    }

    [Fact]
    public void GenerateWithAdapterEqualsTheInProcessAdaptedModel()
    {
        var (code, stdout, stderr) = CliRun.Run("generate", "--model", tiny.ModelDir, "--adapter", tiny.AdapterDir,
            "--prompt-ids", "1,300,17", "--max-new-tokens", "12", "--temperature", "0", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var generated = doc.RootElement.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var expected = ShareLoRA.Model.Generation.Generator.Generate(tiny.Model, [1, 300, 17], new GenerationOptions(12, 0, null, 0, StopTokenIds: [2]), tiny.Bank);
        Assert.Equal(expected, generated);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("text").ValueKind);   // no tokenizer.json: ids only
    }

    [Fact]
    public void MergedCheckpointsLogitsEqualBasePlusAdapterLogits()
    {
        var outDir = tiny.NewDir("merged");
        var (code, stdout, stderr) = CliRun.Run("merge", "--model", tiny.ModelDir, "--adapter", tiny.RunDir, "--out", outDir);
        Assert.True(code == 0, stderr);
        Assert.Contains("share-a", stdout);
        Assert.True(File.Exists(Path.Combine(outDir, "config.json")));

        using var merged = LlamaModel.Load(outDir, new ModelLoadOptions());
        using var expected = Logits(tiny.Model, tiny.Bank);
        using var actual = Logits(merged, null);
        using var baseLogits = Logits(tiny.Model, null);
        Assert.True(MaxAbsDiff(expected, actual) < 1e-5, $"merged vs base+adapter max |diff| {MaxAbsDiff(expected, actual):E3}");
        Assert.True(MaxAbsDiff(baseLogits, actual) > 1e-3);

        // Adapted weights are W0 + s B A; everything else is copied bit for bit.
        using var file = SafetensorsFile.Open(Path.Combine(outDir, "model.safetensors"));
        using var embed = file.Read(HfKeys.EmbedTokens);
        Assert.True(eq(embed, tiny.Model.Embedding!.Weight).all().item<bool>());
        using var q1 = file.Read(HfKeys.Weight(1, TargetModule.Q));
        using var q1Expected = tiny.Bank.MergedWeight(TargetModule.Q, 1, tiny.Model.Layers[1].Weight(TargetModule.Q));
        Assert.True(eq(q1, q1Expected).all().item<bool>());
    }

    [Fact]
    public void MergeRefusesANonEmptyOutWithoutForce()
    {
        var outDir = tiny.NewDir("busy");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "keep me");
        var (code, _, stderr) = CliRun.Run("merge", "--model", tiny.ModelDir, "--adapter", tiny.RunDir, "--out", outDir);
        Assert.Equal(2, code);
        Assert.StartsWith("error: --out: " + outDir + " is not empty", stderr);
        Assert.Contains("--force", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(outDir, "model.safetensors")));

        (code, _, stderr) = CliRun.Run("merge", "--model", tiny.ModelDir, "--adapter", tiny.RunDir, "--out", outDir, "--force");
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(outDir, "model.safetensors")));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(outDir, "notes.txt")));

        (code, _, stderr) = CliRun.Run("merge", "--model", tiny.ModelDir, "--adapter", tiny.RunDir, "--out", tiny.ModelDir, "--force");
        Assert.Equal(2, code);
        Assert.Contains("base model directory", stderr);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ExportWritesPeftThatLoadsToTheSameLogits(bool plainPeft)
    {
        var outDir = tiny.NewDir("peft");
        string[] args = ["export", "--adapter", tiny.RunDir, "--format", "peft", "--out", outDir];
        var (code, _, stderr) = CliRun.Run(plainPeft ? [.. args, "--plain-peft"] : args);
        Assert.True(code == 0, stderr);
        Assert.False(File.Exists(Path.Combine(outDir, NativeAdapterFormat.FileName)));

        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, PeftAdapterFormat.ConfigFileName))))
        {
            Assert.Equal("tiny-base", doc.RootElement.GetProperty("base_model_name_or_path").GetString());
            Assert.Equal(!plainPeft, doc.RootElement.TryGetProperty("sharelora", out _));
        }
        using var loaded = AdapterDirectory.Load(outDir, tiny.Config);
        Assert.Equal(plainPeft ? "lora" : "share-a", loaded.Layout.MethodName);
        using var expected = Logits(tiny.Model, tiny.Bank);
        using var actual = Logits(tiny.Model, loaded);
        Assert.True(eq(expected, actual).all().item<bool>());
    }

    [Fact]
    public void ExportAcceptsOnlyPeft()
    {
        var (code, _, stderr) = CliRun.Run("export", "--adapter", tiny.RunDir, "--format", "gguf", "--out", tiny.NewDir("x"));
        Assert.Equal(2, code);
        Assert.Contains("gguf", stderr);
    }

    [Fact]
    public void AdapterForOtherDimsIsOneErrorLineNamingFileAndTensor()
    {
        var wrongDir = tiny.NewDir("wrong-adapter");
        var other = tiny.Config with { IntermediateSize = 20 };
        using (var bank = AdapterBank.Create(AdapterLayout.ForMethod("lora", 3, AdapterLayout.LlamaDims(other), TargetModules.All, 4, 8, 0.1), seed: 1))
            AdapterDirectory.Save(bank, wrongDir, "other");
        foreach (var command in new[] { "score", "merge" })
        {
            string[] args = command == "score"
                ? ["score", "--model", tiny.ModelDir, "--adapter", wrongDir, "--token-ids", IdsText]
                : ["merge", "--model", tiny.ModelDir, "--adapter", wrongDir, "--out", tiny.NewDir("m")];
            var (code, _, stderr) = CliRun.Run(args);
            Assert.Equal(2, code);
            Assert.StartsWith("error: " + Path.Combine(wrongDir, NativeAdapterFormat.FileName) + ": tensor 'layers.0.gate.B'", stderr);
            Assert.Contains("[20, 4], expected [24, 4]", stderr);
            Assert.Single(stderr.Trim().Split('\n'));
        }
    }

    /// <summary>The real stories260K checkpoint: text through its tokenizer, and a merged directory that carries the tokenizer.</summary>
    [SkippableFact]
    public void Stories260KScoreWithAdapterEqualsTheMergedCheckpointsScore()
    {
        var stories = SharedAssets.Stories260K;
        using var model = LlamaModel.Load(stories, new ModelLoadOptions());
        var runDir = tiny.NewDir("stories-run");
        using (var bank = AdapterBank.Create(AdapterLayout.ForMethod("share-b", model.Config.NumHiddenLayers, AdapterLayout.LlamaDims(model.Config),
                   [TargetModule.Q, TargetModule.V, TargetModule.Down], rank: 4, alpha: 16, dropout: 0.1), seed: 3))
        {
            // share-b starts with zero shared B; give it values so the adapter matters.
            TinyModelFixture.RandomizeB(bank, 4);
            AdapterDirectory.Save(bank, Path.Combine(runDir, AdapterDirectory.SubdirectoryName), stories);
        }
        const string text = "Once upon a time, there was a little dog.";
        var (code, stdout, stderr) = CliRun.Run("score", "--model", stories, "--adapter", runDir, "--text", text, "--json");
        Assert.True(code == 0, stderr);
        var withAdapter = LogProbs(stdout);
        (code, stdout, _) = CliRun.Run("score", "--model", stories, "--text", text, "--json");
        var plain = LogProbs(stdout);
        Assert.True(withAdapter.Zip(plain, (a, b) => Math.Abs(a - b)).Max() > 1e-3);

        var merged = tiny.NewDir("stories-merged");
        (code, _, stderr) = CliRun.Run("merge", "--model", stories, "--adapter", runDir, "--out", merged);
        Assert.True(code == 0, stderr);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(stories, file)), File.ReadAllBytes(Path.Combine(merged, file)));
        (code, stdout, stderr) = CliRun.Run("score", "--model", merged, "--text", text, "--json");
        Assert.True(code == 0, stderr);
        var fromMerged = LogProbs(stdout);
        Assert.Equal(withAdapter.Length, fromMerged.Length);
        Assert.True(withAdapter.Zip(fromMerged, (a, b) => Math.Abs(a - b)).Max() < 1e-4);
    }
}
