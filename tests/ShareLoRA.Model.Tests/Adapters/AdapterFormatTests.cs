using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

public sealed class AdapterFormatTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"sharelora-adapter-tests-{Guid.NewGuid():N}");

    public AdapterFormatTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static bool Same(Tensor a, Tensor b) => a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) && eq(a, b).all().item<bool>();

    private static Dictionary<string, (string DType, long[] Shape)> Header(string path)
    {
        using var f = SafetensorsFile.Open(path);
        return f.Entries.ToDictionary(e => e.Key, e => (e.Value.DType, e.Value.Shape));
    }

    private static AdapterBank RandomBank(string method, long seed = 5)
    {
        var bank = AdapterBank.Create(ToyDecoderStack.Layout(method), seed);
        ToyDecoderStack.Randomize(bank, seed + 1);
        return bank;
    }

    [Fact]
    public void PeftKeysAreExactlyPeftsNames()
    {
        Assert.Equal("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", PeftKeys.Key(0, TargetModule.Q, 'A'));
        Assert.Equal("base_model.model.model.layers.12.self_attn.o_proj.lora_B.weight", PeftKeys.Key(12, TargetModule.O, 'B'));
        Assert.Equal("base_model.model.model.layers.3.mlp.gate_proj.lora_B.weight", PeftKeys.Key(3, TargetModule.Gate, 'B'));
        Assert.Equal("base_model.model.model.layers.1.mlp.down_proj.lora_A.weight", PeftKeys.Key(1, TargetModule.Down, 'A'));
        foreach (var m in TargetModules.All)
        {
            Assert.True(PeftKeys.TryParse(PeftKeys.Key(7, m, 'B'), out var l, out var parsed, out var mat));
            Assert.Equal((7, m, 'B'), (l, parsed, mat));
        }
        Assert.False(PeftKeys.TryParse("base_model.model.model.layers.0.mlp.q_proj.lora_A.weight", out _, out _, out _));
        Assert.False(PeftKeys.TryParse("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight", out _, out _, out _));
    }

    [Theory]
    [MemberData(nameof(AdapterBankTests.AllMethods), MemberType = typeof(AdapterBankTests))]
    public void PeftExportHasPeftsKeysShapesAndConfigAndImportGivesIdenticalDeltas(string method)
    {
        using var bank = RandomBank(method);
        PeftAdapterFormat.Export(bank, _dir, "/models/toy");

        var header = Header(Path.Combine(_dir, PeftAdapterFormat.WeightsFileName));
        var expected = new Dictionary<string, long[]>();
        for (int l = 0; l < 3; l++)
            foreach (var m in ToyDecoderStack.Targets)
            {
                var (dIn, dOut) = ToyDecoderStack.Dims[m];
                expected[PeftKeys.Key(l, m, 'A')] = [2, dIn];
                expected[PeftKeys.Key(l, m, 'B')] = [dOut, 2];
            }
        Assert.Equal(expected.Keys.Order(), header.Keys.Order());
        foreach (var (key, shape) in expected)
        {
            Assert.Equal("F32", header[key].DType);
            Assert.Equal(shape, header[key].Shape);
        }

        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, PeftAdapterFormat.ConfigFileName))))
        {
            var c = doc.RootElement;
            Assert.Equal("LORA", c.GetProperty("peft_type").GetString());
            Assert.Equal("CAUSAL_LM", c.GetProperty("task_type").GetString());
            Assert.Equal("/models/toy", c.GetProperty("base_model_name_or_path").GetString());
            Assert.Equal(2, c.GetProperty("r").GetInt32());
            Assert.Equal(3, c.GetProperty("lora_alpha").GetInt32());
            Assert.Equal(0.25, c.GetProperty("lora_dropout").GetDouble());
            Assert.Equal("none", c.GetProperty("bias").GetString());
            Assert.Equal(["q_proj", "v_proj", "gate_proj", "down_proj"], c.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()!).ToArray());
            Assert.Equal(bank.Layout.MethodName, c.GetProperty("sharelora").GetProperty("method").GetString());
        }

        using var imported = PeftAdapterFormat.Import(_dir, seed: bank.Seed);
        Assert.Equal(bank.Layout.SharedA.Order(), imported.Layout.SharedA.Order());
        Assert.Equal(bank.Layout.SharedB.Order(), imported.Layout.SharedB.Order());
        Assert.Equal(bank.Parameters.Select(p => p.Name), imported.Parameters.Select(p => p.Name));
        foreach (var p in bank.Parameters) Assert.True(Same(p.Value, imported.Find(p.Name)!.Value), p.Name);
        for (int l = 0; l < 3; l++)
            foreach (var m in ToyDecoderStack.Targets)
            {
                using var x = randn(2, 3, ToyDecoderStack.Dims[m].DIn);
                using var d1 = bank.ForLayer(l)!.Delta(m, x)!;
                using var d2 = imported.ForLayer(l)!.Delta(m, x)!;
                Assert.True(Same(d1, d2), $"{method}: layer {l} {m} delta changed through PEFT export/import");
            }
    }

    [Fact]
    public void PeftExportWritesTheSharedMatrixUnderEveryLayersKey()
    {
        using var bank = RandomBank("share-a");
        PeftAdapterFormat.Export(bank, _dir, "toy");
        var (tensors, _) = SafetensorsFile.ReadFile(Path.Combine(_dir, PeftAdapterFormat.WeightsFileName));
        try
        {
            var shared = bank.Find("shared.q.A")!.Value;
            for (int l = 0; l < 3; l++) Assert.True(Same(shared, tensors[PeftKeys.Key(l, TargetModule.Q, 'A')]));
            Assert.False(Same(tensors[PeftKeys.Key(0, TargetModule.Q, 'B')], tensors[PeftKeys.Key(1, TargetModule.Q, 'B')]));
        }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    [Fact]
    public void PeftImportRefusesToFoldCopiesThatDiffer()
    {
        using var bank = RandomBank("share-a");
        PeftAdapterFormat.Export(bank, _dir, "toy");
        var path = Path.Combine(_dir, PeftAdapterFormat.WeightsFileName);
        var (tensors, metadata) = SafetensorsFile.ReadFile(path);
        var tampered = PeftKeys.Key(2, TargetModule.V, 'A');
        tensors[tampered].add_(1e-3f);
        SafetensorsWriter.Write(path, tensors, metadata);
        foreach (var t in tensors.Values) t.Dispose();

        var e = Assert.Throws<InvalidDataException>(() => PeftAdapterFormat.Import(_dir));
        Assert.Contains(tampered, e.Message);
        // Read as plain LoRA it loads, and layer 2's v A is its own tensor.
        using var asLora = PeftAdapterFormat.Import(_dir, sharedA: new HashSet<TargetModule>(), sharedB: new HashSet<TargetModule>());
        Assert.Equal("lora", asLora.Layout.MethodName);
    }

    [Fact]
    public void PeftExportWithoutTheShareLoraSectionImportsAsLoraOrWithTheSharingGiven()
    {
        using var bank = RandomBank("share-b");
        PeftAdapterFormat.Export(bank, _dir, "toy", includeShareLoraSection: false);
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, PeftAdapterFormat.ConfigFileName))))
            Assert.False(doc.RootElement.TryGetProperty("sharelora", out _));
        using var plain = PeftAdapterFormat.Import(_dir);
        Assert.Equal("lora", plain.Layout.MethodName);
        Assert.Equal(bank.Layout.NumLayers * 8, plain.Parameters.Count);
        using var folded = PeftAdapterFormat.Import(_dir, sharedA: new HashSet<TargetModule>(), sharedB: ToyDecoderStack.Targets.ToHashSet());
        Assert.Equal("share-b", folded.Layout.MethodName);
        foreach (var p in bank.Parameters) Assert.True(Same(p.Value, folded.Find(p.Name)!.Value), p.Name);
    }

    [Fact]
    public void PeftExportNeedsTheWholeModel()
    {
        using var stage = AdapterBank.Create(ToyDecoderStack.Layout("lora"), 1, 1, 3);
        Assert.Throws<ArgumentException>(() => PeftAdapterFormat.Export(stage, _dir, "toy"));
    }

    [Theory]
    [MemberData(nameof(AdapterBankTests.AllMethods), MemberType = typeof(AdapterBankTests))]
    public void NativeFileStoresSharedTensorsOnceAndRoundTrips(string method)
    {
        using var bank = RandomBank(method, seed: 77);
        var path = Path.Combine(_dir, NativeAdapterFormat.FileName);
        NativeAdapterFormat.Save(bank, path);

        var header = Header(path);
        Assert.Equal(bank.Parameters.Select(p => p.Name).Order(), header.Keys.Order());
        if (method == "share-a") Assert.Contains("shared.q.A", header.Keys);
        if (method == "share-a") Assert.DoesNotContain("layers.0.q.A", header.Keys);
        if (method == "lora") Assert.Contains("layers.2.down.B", header.Keys);

        using var loaded = NativeAdapterFormat.Load(path);
        Assert.Equal(bank.Seed, loaded.Seed);
        var (a, b) = (bank.Layout, loaded.Layout);
        Assert.Equal((a.NumLayers, a.Rank, a.Alpha, a.Dropout, a.MethodName), (b.NumLayers, b.Rank, b.Alpha, b.Dropout, b.MethodName));
        Assert.Equal(a.OrderedTargets, b.OrderedTargets);
        Assert.Equal(a.SharedA.Order(), b.SharedA.Order());
        foreach (var m in a.Targets) Assert.Equal(a.Dims[m], b.Dims[m]);
        foreach (var p in bank.Parameters) Assert.True(Same(p.Value, loaded.Find(p.Name)!.Value), p.Name);

        // A pipeline stage reads its slice of the full file.
        using var stage = NativeAdapterFormat.Load(path, firstLayer: 1, endLayer: 2);
        Assert.All(stage.Parameters, p => Assert.True(Same(p.Value, bank.Find(p.Name)!.Value), p.Name));
        Assert.Equal(bank.Parameters.Count(p => p.Shared || p.Layer == 1), stage.Parameters.Count);
    }

    [Fact]
    public void SafetensorsFilesHaveAnAlignedHeaderAndAdapterFilesRejectNonFloatDtypes()
    {
        var path = Path.Combine(_dir, "t.safetensors");
        using var t = arange(6, ScalarType.Float32).reshape(2, 3);
        SafetensorsWriter.Write(path, [("x", t)], new Dictionary<string, string> { ["k"] = "v" });
        var bytes = File.ReadAllBytes(path);
        var headerLength = BitConverter.ToUInt64(bytes, 0);
        Assert.Equal(0UL, headerLength % 8);
        Assert.Equal(8 + (long)headerLength + 24, bytes.Length);
        var (tensors, metadata) = SafetensorsFile.ReadFile(path);
        Assert.Equal("v", metadata["k"]);
        Assert.True(Same(t, tensors["x"]));
        tensors["x"].Dispose();

        WriteRawHeader(path, "{\"x\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        var e = Assert.Throws<InvalidDataException>(() => NativeAdapterFormat.Load(path));
        Assert.Contains("'x'", e.Message);
        Assert.Contains("I8", e.Message);

        WriteRawHeader(path, "{\"x\":{\"dtype\":\"Q3\",\"shape\":[1],\"data_offsets\":[0,1]}}");
        e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.ReadFile(path));
        Assert.Contains("'x'", e.Message);
    }

    private static void WriteRawHeader(string path, string header)
    {
        var json = System.Text.Encoding.UTF8.GetBytes(header);
        using var f = File.Create(path);
        f.Write(BitConverter.GetBytes((ulong)json.Length));
        f.Write(json);
        f.WriteByte(0);
    }
}
