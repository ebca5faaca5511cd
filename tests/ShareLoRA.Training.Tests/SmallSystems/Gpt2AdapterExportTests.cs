using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.IO;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tests.Pipeline;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.SmallSystems;

/// <summary>
/// GPT-2 adapters as PEFT LoRA on the fused c_attn: the file layout PEFT expects, and the update PEFT would add to
/// c_attn's output (scaling x lora_B(lora_A(x))) equal to ours on the q and v slices (k untouched), layer by layer.
/// </summary>
public sealed class Gpt2AdapterExportTests
{
    private static readonly Gpt2Config Config = TinyFamilies.Gpt2;

    private static AdapterBank RandomBank(string method, IReadOnlyList<TargetModule> targets, out AdapterLayout layout)
    {
        layout = AdapterLayout.ForMethod(method, Config.NumLayers, Gpt2Model.AdapterDims(Config), targets, 4, 32, 0.1);
        var bank = AdapterBank.Create(layout, 3);
        var values = TinyLlama.RandomValues(layout, 9);
        bank.LoadValues(values);
        TinyLlama.DisposeAll(values.Values);
        return bank;
    }

    [Theory]
    [InlineData("share-a")]
    [InlineData("lora")]
    [InlineData("share-ab")]
    public void QvAdaptersBecomeOneExactLoraOnCAttn(string method)
    {
        using var folder = new TempFolder();
        using var bank = RandomBank(method, [TargetModule.Q, TargetModule.V], out var layout);
        Gpt2AdapterExport.Save(bank, folder.Path, "gpt2-medium");

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, PeftAdapterFormat.ConfigFileName)));
        var root = doc.RootElement;
        Assert.Equal("LORA", root.GetProperty("peft_type").GetString());
        Assert.Equal("CAUSAL_LM", root.GetProperty("task_type").GetString());
        Assert.Equal(["attn.c_attn"], root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
        Assert.True(root.GetProperty("fan_in_fan_out").GetBoolean());
        int r = root.GetProperty("r").GetInt32();
        double alpha = root.GetProperty("lora_alpha").GetDouble();
        Assert.Equal(2 * layout.Rank, r);
        Assert.Equal(layout.Scale, alpha / r, 12);       // PEFT's scaling equals ours
        Assert.Equal(method, root.GetProperty("sharelora").GetProperty("method").GetString());
        Assert.True(File.Exists(Path.Combine(folder.Path, NativeAdapterFormat.FileName)));

        using var file = SafetensorsFile.Open(Path.Combine(folder.Path, PeftAdapterFormat.WeightsFileName));
        Assert.Equal(2 * Config.NumLayers, file.Entries.Count);
        using var gen = new Generator(5, CPU);
        using var x = randn([5, Config.HiddenSize], ScalarType.Float32, CPU, false, gen);
        int h = Config.HiddenSize;
        for (int l = 0; l < Config.NumLayers; l++)
        {
            using var scope = NewDisposeScope();
            var a = file.Read(Gpt2AdapterExport.LoraKey(l, "attn.c_attn", 'A'));
            var b = file.Read(Gpt2AdapterExport.LoraKey(l, "attn.c_attn", 'B'));
            Assert.Equal([2L * layout.Rank, h], a.shape);
            Assert.Equal([3L * h, 2L * layout.Rank], b.shape);
            // PEFT's LoRA forward on c_attn (eval, no dropout): scaling * lora_B(lora_A(x)), [5, 3h].
            var peft = nn.functional.linear(nn.functional.linear(x, a), b).mul(alpha / r);
            // Ours: q's delta in the first h outputs, none on k, v's in the last h.
            var ours = cat([bank.Delta(l, TargetModule.Q, x)!, zeros(5, h), bank.Delta(l, TargetModule.V, x)!], 1);
            double diff = (peft - ours).abs().max().item<float>();
            Assert.True(diff < 1e-6, $"layer {l}: PEFT's c_attn update differs from ours by {diff:R}");
        }
    }

    [Fact]
    public void WholeModulesArePlainLoraAndCAttnGetsItsRankThroughRankPattern()
    {
        using var folder = new TempFolder();
        using var bank = RandomBank("share-a", [TargetModule.Q, TargetModule.K, TargetModule.V, TargetModule.O, TargetModule.Down], out var layout);
        Gpt2AdapterExport.SavePeft(bank, folder.Path, "gpt2");
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder.Path, PeftAdapterFormat.ConfigFileName)));
        var root = doc.RootElement;
        Assert.Equal(["attn.c_attn", "attn.c_proj", "mlp.c_proj"], root.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(layout.Rank, root.GetProperty("r").GetInt32());
        Assert.Equal(3 * layout.Rank, root.GetProperty("rank_pattern").GetProperty("attn.c_attn").GetInt32());
        Assert.Equal(3 * layout.Alpha, root.GetProperty("alpha_pattern").GetProperty("attn.c_attn").GetDouble());
        using var peft = SafetensorsFile.Open(Path.Combine(folder.Path, PeftAdapterFormat.WeightsFileName));
        Assert.Equal([(long)layout.Rank, Config.HiddenSize], peft.Entries[Gpt2AdapterExport.LoraKey(1, "attn.c_proj", 'A')].Shape);
        Assert.Equal([(long)Config.HiddenSize, layout.Rank], peft.Entries[Gpt2AdapterExport.LoraKey(1, "mlp.c_proj", 'B')].Shape);
        Assert.Equal([3L * layout.Rank, Config.HiddenSize], peft.Entries[Gpt2AdapterExport.LoraKey(0, "attn.c_attn", 'A')].Shape);
        Assert.Equal(Config.NumLayers * 6, peft.Entries.Count);
    }
}
