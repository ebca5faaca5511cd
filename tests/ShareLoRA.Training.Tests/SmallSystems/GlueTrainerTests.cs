using System.Text;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.Glue;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.SmallSystems;

/// <summary>GlueTrainer on a tiny random RoBERTa with the real roberta-base BPE and a learnable synthetic SST-2.</summary>
public class GlueTrainerTests
{
    internal static readonly RobertaConfig Tiny = new(VocabSize: 50265, HiddenSize: 16, NumLayers: 2, NumHeads: 2, IntermediateSize: 32,
        MaxPositions: 66, NumLabels: 2);

    private static readonly string[] Words = ["the", "film", "was", "a", "story", "of", "long", "days", "and", "quiet", "nights", "with", "some", "actors"];

    /// <summary>Label 1 exactly when the sentence contains "good": a token-presence rule a classifier on &lt;s&gt; can learn through q/v.</summary>
    internal static string SyntheticSst2(int rows, ulong seed)
    {
        var rng = new ShareLoRA.Training.Determinism.SplitMix64(seed);
        var sb = new StringBuilder("sentence\tlabel\n");
        for (int i = 0; i < rows; i++)
        {
            int n = 4 + rng.NextInt(5);
            var words = Enumerable.Range(0, n).Select(_ => Words[rng.NextInt(Words.Length)]).ToList();
            bool positive = i % 2 == 0;
            if (positive) words.Insert(rng.NextInt(words.Count + 1), "good");
            sb.Append(string.Join(' ', words)).Append('\t').Append(positive ? 1 : 0).Append('\n');
        }
        return sb.ToString();
    }

    private static GlueTrainingOptions Options(int steps) => new(GlueTasks.Sst2, AdapterMethod.ShareA,
        new GlueHyperparameters(LearningRate: 1e-2, Epochs: 1, BatchSize: 8, WarmupRatio: 0.06, MaxSeqLen: 64, Rank: 4, Alpha: 8),
        Steps: steps, EvalEvery: 15, Seed: 3);

    private static (GlueTrainingResult Result, Dictionary<string, float[]> HeadBefore, Dictionary<string, float[]> HeadAfter, float[] EncoderBefore, float[] EncoderAfter, string OutDir)
        Run(TempFolder folder, string tag)
    {
        using var tokenizer = ByteLevelBpe.Load(SharedAssets.RequireDirectory("tokenizers/roberta-base"));
        var train = GlueReader.Parse(GlueTasks.Sst2, SyntheticSst2(64, 1), "train.tsv");
        var dev = GlueReader.Parse(GlueTasks.Sst2, SyntheticSst2(32, 2), "dev.tsv");
        using var model = RobertaModel.CreateRandom(Tiny, 11, initStd: 0.3);
        var headBefore = Snapshot(model.HeadParameters().Select(p => (p.Key, (Tensor)p.Value)));
        var encoderBefore = Flat(model.Layers[0].HfTensors().First().Value);
        using var trainer = new GlueTrainer(model, tokenizer, Options(30));
        GlueTrainingResult result;
        using (var metrics = new MetricsWriter(Path.Combine(folder.Path, tag, "metrics.jsonl")))
            result = trainer.Train(train, dev, metrics);
        var outDir = Path.Combine(folder.Path, tag, "adapter");
        trainer.Save(outDir, "tiny-roberta");
        return (result, headBefore, Snapshot(model.HeadParameters().Select(p => (p.Key, (Tensor)p.Value))),
            encoderBefore, Flat(model.Layers[0].HfTensors().First().Value), outDir);
    }

    private static float[] Flat(Tensor t) => t.detach().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

    private static Dictionary<string, float[]> Snapshot(IEnumerable<(string, Tensor)> tensors) => tensors.ToDictionary(t => t.Item1, t => Flat(t.Item2));

    [SkippableFact]
    public void ShareATrainingImprovesDevAccuracyTrainsHeadOnlyAndIsDeterministic()
    {
        using var folder = new TempFolder();
        var first = Run(folder, "a");
        var start = first.Result.Evaluations[0];
        var end = first.Result.Final!;
        Assert.Equal(0, start.Step);
        Assert.Equal(30, end.Step);
        Assert.True(end.Score.ReportedValue > start.Score.ReportedValue + 0.2,
            $"dev accuracy {start.Score.ReportedValue:F3} -> {end.Score.ReportedValue:F3}");
        foreach (var (name, before) in first.HeadBefore)
            Assert.False(before.SequenceEqual(first.HeadAfter[name]), $"head tensor {name} did not change");
        Assert.Equal(first.EncoderBefore, first.EncoderAfter);

        // metrics.jsonl: one line per step plus the eval events.
        var lines = File.ReadAllLines(Path.Combine(folder.Path, "a", "metrics.jsonl"));
        Assert.Equal(30, lines.Count(l => l.Contains("\"loss\"")));
        Assert.Equal(first.Result.Evaluations.Count, lines.Count(l => l.Contains("\"event\":\"eval\"")));

        // Adapter directory: native + head, and PEFT with the head under modules_to_save names.
        Assert.True(File.Exists(Path.Combine(first.OutDir, "adapter.safetensors")));
        Assert.True(File.Exists(Path.Combine(first.OutDir, RobertaAdapterExport.HeadFileName)));
        var config = File.ReadAllText(Path.Combine(first.OutDir, "adapter_config.json"));
        Assert.Contains("\"modules_to_save\": [\n    \"classifier\"\n  ]", config.Replace("\r", ""));
        Assert.Contains("\"task_type\": \"SEQ_CLS\"", config);
        using (var peft = SafetensorsFile.Open(Path.Combine(first.OutDir, "adapter_model.safetensors")))
        {
            var names = peft.Entries.Keys.ToHashSet();
            Assert.Contains("base_model.model.classifier.dense.weight", names);
            Assert.Contains("base_model.model.classifier.out_proj.bias", names);
            Assert.Contains("base_model.model.roberta.encoder.layer.1.attention.self.value.lora_B.weight", names);
            Assert.Contains("base_model.model.roberta.encoder.layer.0.attention.self.query.lora_A.weight", names);
            Assert.Equal(4 + 2 * 2 * 2, names.Count);
        }

        var second = Run(folder, "b");
        Assert.Equal(first.Result.Losses, second.Result.Losses);   // bitwise: doubles from the same float32 values
        Assert.Equal(first.Result.Evaluations.Select(e => e.Score.ReportedValue), second.Result.Evaluations.Select(e => e.Score.ReportedValue));
    }

    [Fact]
    public void PairsAreEncodedLikeHuggingFaceAndTruncatedLongestFirst()
    {
        var tok = new WordTokenizer();
        var encoder = new GlueInputEncoder(tok, 10);
        var pair = encoder.Encode(new GlueExample(2, "a b c d e", "f g", 0, 0));
        // <s> a b c d </s></s> f g </s>: the longer side loses tokens first, budget 10 - 4 = 6.
        Assert.Equal([0, 10, 11, 12, 13, 2, 2, 15, 16, 2], pair);
        var single = encoder.Encode(new GlueExample(3, "a b c d e f g h i j k", null, 0, 0));
        Assert.Equal(10, single.Length);
        Assert.Equal(0, single[0]);
        Assert.Equal(2, single[^1]);
    }

    [Fact]
    public void PresetsFollowTheLoraRepoTable()
    {
        var sst2 = GlueHyperparameters.RobertaBase(GlueTask.Sst2);
        Assert.Equal((5e-4, 60, 16, 0.06, 512, 8, 8.0), (sst2.LearningRate, sst2.Epochs, sst2.BatchSize, sst2.WarmupRatio, sst2.MaxSeqLen, sst2.Rank, sst2.Alpha));
        Assert.Equal(4e-4, GlueHyperparameters.RobertaBase(GlueTask.Mrpc).LearningRate);
        Assert.Equal(30, GlueHyperparameters.RobertaBase(GlueTask.Mrpc).Epochs);
    }

    /// <summary>Letters a..z -> 10..35, split on spaces; &lt;s&gt; 0, &lt;/s&gt; 2, &lt;pad&gt; 1.</summary>
    private sealed class WordTokenizer : ITextTokenizer
    {
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) =>
            text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => 10 + (w[0] - 'a')).ToList();
        public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) => string.Join(' ', ids);
        public int? BosId => 0;
        public int? EosId => 2;
        public int? PadId => 1;
        public int VocabSize => 40;
    }
}
