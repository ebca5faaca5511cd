using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using ShareLoRA.TestSupport;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>
/// A temporary folder holding a tiny random Llama (vocabulary 512, saved in Hugging Face layout) with stories260K's
/// tokenizer files copied beside it, so commands can load it like any model directory. Null <see cref="ModelDir"/>
/// when the shared folder is absent (tests then skip via <see cref="Require"/>).
/// </summary>
public sealed class TinyModelDirectory : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "sharelora-eval-" + Guid.NewGuid().ToString("N"));
    public string? ModelDir { get; }

    public TinyModelDirectory()
    {
        Directory.CreateDirectory(Root);
        if (SharedAssets.RootOrNull is not { } shared || !Directory.Exists(Path.Combine(shared, "models/stories260K-hf"))) return;
        ModelDir = Path.Combine(Root, "model");
        var config = new LlamaConfig
        {
            HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
            HeadDim = 8, VocabSize = 512, MaxPositionEmbeddings = 512, RmsNormEps = 1e-5, RopeTheta = 10000,
            TieWordEmbeddings = true, BosTokenId = 1, EosTokenIds = [2],
        };
        // A larger init than the default so the A-D logits differ clearly (no argmax ties).
        using (var model = LlamaModel.CreateRandom(config, seed: 11, initStd: 0.5)) model.Save(ModelDir);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json" })
            File.Copy(Path.Combine(shared, "models/stories260K-hf", file), Path.Combine(ModelDir, file));
    }

    public string Require()
    {
        Xunit.Skip.If(ModelDir == null, "needs shared/models/stories260K-hf for its tokenizer (set SHARELORA_SHARED)");
        return ModelDir!;
    }

    /// <summary>Writes a file under a fresh folder of the root and returns its path.</summary>
    public string Write(string relative, string text)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}
