using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Demo;

/// <summary>
/// Generates the self-contained demo: a tiny random Llama (model/: config.json, model.safetensors, tokenizer files), a
/// synthetic Alpaca dataset (data/train.jsonl, data/eval.jsonl) and a ready-to-run ShareLoRA job (demo-job.json), so the
/// quick start needs nothing but the repository. Everything is byte-for-byte determined by the seed.
/// </summary>
public static class DemoAssets
{
    public const string ModelFolder = "model";
    public const string DataFolder = "data";
    public const string JobFileName = "demo-job.json";

    // The number of training prompts the tokenizer's merges are learned on: plenty for the few templates, and cheap.
    private const int MergeCorpusExamples = 400;

    private static readonly JsonSerializerOptions JsonLine = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The demo model's shape for a given vocabulary (hidden 64, 4 layers, 4 heads over 2 KV heads, tied embeddings).</summary>
    public static LlamaConfig ModelConfig(int vocabSize) => new(
        HiddenSize: 64, IntermediateSize: 172, NumHiddenLayers: 4, NumAttentionHeads: 4, NumKeyValueHeads: 2, HeadDim: 16,
        VocabSize: vocabSize, MaxPositionEmbeddings: 512, RmsNormEps: 1e-5, TieWordEmbeddings: true,
        BosTokenId: DemoTokenizer.BosId, EosTokenIds: [DemoTokenizer.EosId]);

    /// <summary>
    /// Weight std 1/sqrt(hidden) (fan-in init). The frozen tied embedding is also the output head, and the final RMS norm
    /// fixes the hidden state's length, so with the usual 0.02 the logits could never leave about +-1.3 and the loss
    /// could hardly fall below ln(vocab) whatever the adapters learn.
    /// </summary>
    public static double InitStd(LlamaConfig config) => 1.0 / Math.Sqrt(config.HiddenSize);

    /// <summary>Writes every asset; fails (naming the file) when one exists and <see cref="DemoAssetsOptions.Force"/> is off.</summary>
    public static DemoAssetPaths Write(DemoAssetsOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.TrainExamples);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.EvalExamples);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Merges);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Seed);

        var root = Path.GetFullPath(options.OutputDirectory);
        var modelDir = Path.Combine(root, ModelFolder);
        var dataDir = Path.Combine(root, DataFolder);
        var trainFile = Path.Combine(dataDir, "train.jsonl");
        var evalFile = Path.Combine(dataDir, "eval.jsonl");
        var jobFile = Path.Combine(root, JobFileName);

        foreach (var existing in new[] { modelDir, dataDir, jobFile })
            if (Path.Exists(existing))
            {
                if (!options.Force)
                    throw new IOException($"{existing}: already exists (pass --force to overwrite the demo assets)");
                if (Directory.Exists(existing)) Directory.Delete(existing, recursive: true);
                else File.Delete(existing);
            }
        Directory.CreateDirectory(dataDir);

        var generator = new DemoTaskGenerator(options.Seed);
        var train = generator.Next(options.TrainExamples);
        var eval = generator.Next(options.EvalExamples);
        WriteJsonl(trainFile, train);
        WriteJsonl(evalFile, eval);

        var corpus = train.Take(MergeCorpusExamples).Select(e => AlpacaPrompt.Format(e.Instruction, e.Input) + e.Output);
        var tokenizer = options.Merges == 0 ? DemoTokenizer.ByteLevel() : DemoTokenizer.Train(corpus, options.Merges);

        var config = ModelConfig(tokenizer.VocabSize);
        using (var model = LlamaModel.CreateRandom(config, options.Seed, initStd: InitStd(config)))
            model.Save(modelDir);
        tokenizer.Save(modelDir);

        DemoFiles.WriteText(jobFile, DemoJob.Text(options.Seed));
        return new DemoAssetPaths(modelDir, trainFile, evalFile, jobFile, tokenizer.VocabSize);
    }

    private static void WriteJsonl(string path, IEnumerable<DemoExample> examples)
    {
        var text = new StringBuilder();
        foreach (var e in examples)
        {
            var line = new JsonObject { ["instruction"] = e.Instruction, ["input"] = e.Input, ["output"] = e.Output };
            text.Append(line.ToJsonString(JsonLine)).Append('\n');
        }
        DemoFiles.WriteText(path, text.ToString());
    }
}
