using System.Runtime.CompilerServices;
using System.Text;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Model.Tests.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests;

/// <summary>
/// The registered names of every family's modules, in order, for whole models and pipeline-stage layer ranges. These
/// names are the keys of checkpoints, adapter files, HF loaders and the wire, so any change to how a model registers
/// its parts must leave this golden (ModuleNamesGoldenTests.txt beside this file) byte for byte the same.
/// </summary>
public class ModuleNamesGoldenTests
{
    private static readonly Gpt2Config Gpt2Tiny = new(VocabSize: 37, MaxPositions: 16, HiddenSize: 12, NumLayers: 3, NumHeads: 3, InnerSize: 20);
    private static readonly RobertaConfig RobertaTiny = new(VocabSize: 29, HiddenSize: 12, NumLayers: 3, NumHeads: 3, IntermediateSize: 20,
        MaxPositions: 12, TypeVocabSize: 2, NumLabels: 3);

    // Whole model, first stage (embedding), middle stage, last stage (head), for a model of n layers.
    private static IEnumerable<(string Name, ModelLoadOptions Options)> Ranges(int n, ScalarType dtype = ScalarType.Float32) =>
    [
        ("all", new ModelLoadOptions(DType: dtype)),
        ("first", new ModelLoadOptions(0, n - 2, IncludeEmbedding: true, IncludeHead: false, DType: dtype)),
        ("middle", new ModelLoadOptions(n - 2, n - 1, IncludeEmbedding: false, IncludeHead: false, DType: dtype)),
        ("last", new ModelLoadOptions(n - 1, n, IncludeEmbedding: false, IncludeHead: true, DType: dtype)),
    ];

    [Fact]
    public void NamesShapesAndDTypesMatchTheGolden()
    {
        var text = new StringBuilder();
        foreach (var (label, config) in new[] { ("llama-tied", TinyConfigs.Gqa), ("llama-untied", TinyConfigs.Untied) })
        {
            foreach (var (range, options) in Ranges(config.NumHiddenLayers))
                using (var m = LlamaModel.CreateRandom(config, 1, options)) Describe(text, $"{label} {range} random", m);
            using var dir = new TempDir();
            using (var m = LlamaModel.CreateRandom(config, 1)) m.Save(dir.Path);
            foreach (var (range, options) in Ranges(config.NumHiddenLayers, ScalarType.BFloat16))
                using (var m = LlamaModel.Load(dir.Path, options)) Describe(text, $"{label} {range} loaded bf16", m);
        }

        foreach (var (range, options) in Ranges(Gpt2Tiny.NumLayers))
            using (var m = Gpt2Model.CreateRandom(Gpt2Tiny, 1, options)) Describe(text, $"gpt2 {range} random", m);
        using (var dir = new TempDir())
        {
            using (var m = Gpt2Model.CreateRandom(Gpt2Tiny, 1)) m.Save(dir.Path);
            foreach (var (range, options) in Ranges(Gpt2Tiny.NumLayers, ScalarType.BFloat16))
                using (var m = Gpt2Model.Load(dir.Path, options)) Describe(text, $"gpt2 {range} loaded bf16", m);
        }

        foreach (var (range, options) in Ranges(RobertaTiny.NumLayers))
            using (var m = RobertaModel.CreateRandom(RobertaTiny, 1, options)) Describe(text, $"roberta {range} random", m);
        using (var dir = new TempDir())
        {
            using (var m = RobertaModel.CreateRandom(RobertaTiny, 1)) m.Save(dir.Path);
            // The classifier stays float32 in a bf16 encoder: the dtypes below show it.
            foreach (var (range, options) in Ranges(RobertaTiny.NumLayers, ScalarType.BFloat16))
                using (var m = RobertaModel.Load(dir.Path, options)) Describe(text, $"roberta {range} loaded bf16", m);
        }

        var goldenPath = GoldenPath();
        var actual = text.ToString();
        var expected = File.ReadAllText(goldenPath).ReplaceLineEndings("\n");
        if (actual == expected) return;
        // Written for inspection (and, after a deliberate and reviewed change of names, to replace the golden).
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "ModuleNamesGoldenTests.actual.txt"), actual);
        var a = actual.Split('\n');
        var e = expected.Split('\n');
        int i = 0;
        while (i < a.Length && i < e.Length && a[i] == e[i]) i++;
        Assert.Fail($"module names differ from {goldenPath} at line {i + 1}: expected '{(i < e.Length ? e[i] : "<end>")}', " +
                    $"got '{(i < a.Length ? a[i] : "<end>")}' (whole output in {AppContext.BaseDirectory}ModuleNamesGoldenTests.actual.txt)");
    }

    private static void Describe(StringBuilder text, string title, nn.Module model)
    {
        text.Append("## ").Append(title).Append('\n');
        foreach (var (name, p) in model.named_parameters())
            text.Append($"param {name} [{string.Join(", ", p.shape)}] {p.dtype} requires_grad={p.requires_grad}\n");
        foreach (var (name, b) in model.named_buffers())
            text.Append($"buffer {name} [{string.Join(", ", b.shape)}] {b.dtype}\n");
        foreach (var name in model.state_dict().Keys)
            text.Append($"state {name}\n");
    }

    private static string GoldenPath([CallerFilePath] string source = "") =>
        Path.Combine(Path.GetDirectoryName(source)!, "ModuleNamesGoldenTests.txt");
}
