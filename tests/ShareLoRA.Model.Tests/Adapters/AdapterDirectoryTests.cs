using System.Text.Json.Nodes;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

public sealed class AdapterDirectoryTests : IDisposable
{
    private static readonly int[] Sequence = [1, 4, 9, 15, 0, 7, 3, 12];
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"sharelora-adapterdir-tests-{Guid.NewGuid():N}");

    public AdapterDirectoryTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static AdapterBank TrainedBank(Model.Config.LlamaConfig config, string method, long seed = 3)
    {
        var bank = AdapterBank.Create(TinyAdaptedLlama.Layout(config, method), seed);
        TinyAdaptedLlama.RandomizeB(bank, seed + 1);
        return bank;
    }

    private static Tensor Logits(LlamaModel model, IModelAdapters? adapters)
    {
        using var ids = TinyAdaptedLlama.Ids(Sequence);
        using var noGrad = no_grad();
        return model.Forward(ids, adapters: adapters);
    }

    private static bool Same(Tensor a, Tensor b) => eq(a, b).all().item<bool>();

    [Theory]
    [MemberData(nameof(TinyAdaptedLlama.AllMethods), MemberType = typeof(TinyAdaptedLlama))]
    public void NativeAndPeftLoadsGiveTheSameLogitsAsTheTrainedBank(string method)
    {
        var config = TinyAdaptedLlama.Config(layers: 3);
        using var model = LlamaModel.CreateRandom(config, seed: 2, initStd: 0.3);
        using var bank = TrainedBank(config, method);
        var adapterDir = Path.Combine(_dir, "run", AdapterDirectory.SubdirectoryName);
        AdapterDirectory.Save(bank, adapterDir, "tiny-base");
        using var expected = Logits(model, bank);
        using var baseLogits = Logits(model, null);
        Assert.False(Same(expected, baseLogits));

        // A run's output directory resolves to its adapter/ folder; the native file is preferred and keeps the sharing.
        Assert.Equal(Path.Combine(adapterDir, NativeAdapterFormat.FileName), AdapterDirectory.SourceFile(Path.Combine(_dir, "run")));
        using (var native = AdapterDirectory.Load(Path.Combine(_dir, "run"), config))
        {
            Assert.Equal(method, native.Layout.MethodName);
            Assert.Equal(bank.Parameters.Select(p => p.Name), native.Parameters.Select(p => p.Name));
            Assert.False(native.Context.Training);
            using var logits = Logits(model, native);
            Assert.True(Same(expected, logits), $"{method}: native load changed the logits");
        }

        // Without the native file the PEFT pair is read; its "sharelora" section folds the copies back.
        File.Delete(Path.Combine(adapterDir, NativeAdapterFormat.FileName));
        Assert.Equal(Path.Combine(adapterDir, PeftAdapterFormat.WeightsFileName), AdapterDirectory.SourceFile(adapterDir));
        using (var peft = AdapterDirectory.Load(adapterDir, config))
        {
            Assert.Equal(method, peft.Layout.MethodName);
            using var logits = Logits(model, peft);
            Assert.True(Same(expected, logits), $"{method}: PEFT load changed the logits");
        }

        // A plain PEFT export (no sharelora section) loads as LoRA with every copy and computes the same function.
        var plainDir = Path.Combine(_dir, "plain");
        PeftAdapterFormat.Export(bank, plainDir, "tiny-base", includeShareLoraSection: false);
        using (var plain = AdapterDirectory.Load(plainDir, config))
        {
            Assert.Equal("lora", plain.Layout.MethodName);
            using var logits = Logits(model, plain);
            Assert.True(Same(expected, logits), $"{method}: plain PEFT load changed the logits");
        }
    }

    [Fact]
    public void AdapterForOtherModuleDimsIsRefusedNamingFileTensorAndShapes()
    {
        var trainedOn = TinyAdaptedLlama.Config();
        var other = trainedOn with { IntermediateSize = 20 };
        using var bank = TrainedBank(trainedOn, "lora");
        AdapterDirectory.Save(bank, _dir, "tiny-base");

        var native = Path.Combine(_dir, NativeAdapterFormat.FileName);
        var e = Assert.Throws<InvalidDataException>(() => AdapterDirectory.Load(_dir, other));
        Assert.StartsWith(native + ": ", e.Message);
        Assert.Contains("'layers.0.gate.B'", e.Message);
        Assert.Contains("[12, 2]", e.Message);
        Assert.Contains("expected [20, 2]", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        File.Delete(native);
        e = Assert.Throws<InvalidDataException>(() => AdapterDirectory.Load(_dir, other));
        Assert.StartsWith(Path.Combine(_dir, PeftAdapterFormat.WeightsFileName) + ": ", e.Message);
        Assert.Contains("'base_model.model.model.layers.0.mlp.gate_proj.lora_B.weight'", e.Message);
        Assert.Contains("expected [20, 2]", e.Message);
    }

    [Fact]
    public void AdapterWithMoreLayersThanTheModelIsRefused()
    {
        var config = TinyAdaptedLlama.Config(layers: 3);
        using var bank = TrainedBank(config, "share-a");
        AdapterDirectory.Save(bank, _dir, "tiny-base");
        var e = Assert.Throws<InvalidDataException>(() => AdapterDirectory.Load(_dir, config with { NumHiddenLayers = 2 }));
        Assert.Contains(NativeAdapterFormat.FileName, e.Message);
        Assert.Contains("adapter has 3 layers but the base model has 2", e.Message);
        Assert.Contains("'layers.2.q.B'", e.Message);
        e = Assert.Throws<InvalidDataException>(() => AdapterDirectory.Load(_dir, config with { NumHiddenLayers = 4 }));
        Assert.Contains("the base model has 4", e.Message);
    }

    [Fact]
    public void PeftConfigRankThatDisagreesWithTheTensorsIsRefusedNamingFileAndTensor()
    {
        var config = TinyAdaptedLlama.Config();
        using var bank = TrainedBank(config, "lora");
        PeftAdapterFormat.Export(bank, _dir, "tiny-base");
        var configPath = Path.Combine(_dir, PeftAdapterFormat.ConfigFileName);
        var json = JsonNode.Parse(File.ReadAllText(configPath))!;
        json["r"] = 4;
        File.WriteAllText(configPath, json.ToJsonString());

        var e = Assert.Throws<InvalidDataException>(() => AdapterDirectory.Load(_dir, config));
        Assert.StartsWith(Path.Combine(_dir, PeftAdapterFormat.WeightsFileName) + ": ", e.Message);
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", e.Message);
        Assert.Contains("r=4", e.Message);
    }

    [Fact]
    public void DirectoryWithoutAnAdapterSaysWhatItExpected()
    {
        var e = Assert.Throws<FileNotFoundException>(() => AdapterDirectory.Load(_dir));
        Assert.Contains(_dir, e.Message);
        Assert.Contains(NativeAdapterFormat.FileName, e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => AdapterDirectory.Load(Path.Combine(_dir, "missing")));
    }
}
