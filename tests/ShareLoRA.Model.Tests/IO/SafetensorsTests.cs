using System.Text;
using System.Text.Json;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tests.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.IO;

/// <summary>safetensors writing/reading, sharded checkpoints, and errors that name the tensor and the file.</summary>
public class SafetensorsTests
{
    [Theory]
    [InlineData(ScalarType.Float32, "F32")]
    [InlineData(ScalarType.Float16, "F16")]
    [InlineData(ScalarType.BFloat16, "BF16")]
    public void RoundTripKeepsBitsShapeAndMetadata(ScalarType dtype, string name)
    {
        using var dir = new TempDir();
        var path = dir.File("t.safetensors");
        using var a = randn(3, 5).to(dtype);
        using var b = arange(7).to(dtype);
        using var scalarLike = ones(1, 1, 2).to(dtype);
        SafetensorsWriter.Write(path, [("a", a), ("b.weight", b), ("c", scalarLike)], new Dictionary<string, string> { ["format"] = "pt" });

        var bytes = File.ReadAllBytes(path);
        long headerLen = BitConverter.ToInt64(bytes, 0);
        Assert.Equal(0, headerLen % 8);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)headerLen));
        Assert.Equal(name, header.RootElement.GetProperty("a").GetProperty("dtype").GetString());
        Assert.Equal(8 + headerLen + (15 + 7 + 2) * SafetensorsDType.ElementSize(dtype), bytes.Length);

        using var f = SafetensorsFile.Open(path);
        Assert.Equal("pt", f.Metadata["format"]);
        Assert.Equal([3L, 5L], f.Entry("a").Shape);
        using var ra = f.Read("a", dtype, CPU);
        using var rb = f.Read("b.weight", dtype, CPU);
        Assert.Equal(dtype, ra.dtype);
        Assert.True(eq(a, ra).all().item<bool>());
        Assert.True(eq(b, rb).all().item<bool>());
        Assert.Equal((15 + 7) * SafetensorsDType.ElementSize(dtype), f.BytesRead);
        using var asFloat = f.Read("a", ScalarType.Float32, CPU);
        using var expected = a.to(ScalarType.Float32);
        Assert.True(eq(expected, asFloat).all().item<bool>());
    }

    [Fact]
    public void ShardedCheckpointLoadsLikeASingleFile()
    {
        var c = TinyConfigs.Untied;
        using var single = new TempDir();
        using var sharded = new TempDir();
        using var model = LlamaModel.CreateRandom(c, 13, initStd: 0.3);
        model.Save(single.Path);
        // Three shards: embedding + layer 0, layers 1-2, head; with an index.json mapping each tensor to its file.
        var all = model.HfTensors().ToList();
        string ShardOf(string n) => n.StartsWith("model.layers.1.") || n.StartsWith("model.layers.2.") ? "model-00002-of-00003.safetensors"
            : n == HfKeys.FinalNorm || n == HfKeys.LmHead ? "model-00003-of-00003.safetensors" : "model-00001-of-00003.safetensors";
        foreach (var group in all.GroupBy(kv => ShardOf(kv.Key)))
            SafetensorsWriter.Write(sharded.File(group.Key), group, new Dictionary<string, string> { ["format"] = "pt" });
        var index = new { metadata = new { total_size = 0 }, weight_map = all.ToDictionary(kv => kv.Key, kv => ShardOf(kv.Key)) };
        File.WriteAllText(sharded.File("model.safetensors.index.json"), JsonSerializer.Serialize(index));
        File.Copy(single.File("config.json"), sharded.File("config.json"));

        using var checkpoint = HfCheckpoint.Open(sharded.Path);
        using var range = LlamaModel.Load(checkpoint, new ModelLoadOptions(1, 3, IncludeEmbedding: false, IncludeHead: false));
        Assert.Equal(Enumerable.Range(1, 2).SelectMany(HfKeys.LayerTensors).Sum(n => checkpoint.Entry(n).ByteCount), checkpoint.BytesRead);

        using var loaded = LlamaModel.Load(sharded.Path, new ModelLoadOptions());
        using var ids = tensor(new long[] { 1, 2, 3, 50, 7 }).view(1, 5);
        using var a = model.Forward(ids);
        using var b = loaded.Forward(ids);
        Assert.True(eq(a, b).all().item<bool>());
    }

    private static string WriteTiny(TempDir dir)
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Gqa, 1);
        model.Save(dir.Path);
        return dir.File("model.safetensors");
    }

    [Fact]
    public void MissingTensorNamesTensorAndFile()
    {
        using var dir = new TempDir();
        var path = WriteTiny(dir);
        using var f = SafetensorsFile.Open(path);
        var e = Assert.Throws<InvalidDataException>(() => f.Read("model.layers.9.mlp.up_proj.weight", ScalarType.Float32, CPU));
        Assert.Contains("model.layers.9.mlp.up_proj.weight", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void MissingLayerInCheckpointIsReported()
    {
        using var dir = new TempDir();
        WriteTiny(dir);
        // Claim 5 layers while the file has 4.
        var config = File.ReadAllText(dir.File("config.json")).Replace("\"num_hidden_layers\": 4", "\"num_hidden_layers\": 5");
        File.WriteAllText(dir.File("config.json"), config);
        var e = Assert.Throws<InvalidDataException>(() => LlamaModel.Load(dir.Path, new ModelLoadOptions()));
        Assert.Contains("model.layers.4.input_layernorm.weight", e.Message);
        Assert.Contains(dir.Path, e.Message);
    }

    [Fact]
    public void WrongShapeNamesTensorFileAndShapes()
    {
        using var dir = new TempDir();
        var path = WriteTiny(dir);
        var config = File.ReadAllText(dir.File("config.json")).Replace("\"intermediate_size\": 48", "\"intermediate_size\": 50");
        File.WriteAllText(dir.File("config.json"), config);
        var e = Assert.Throws<InvalidDataException>(() => LlamaModel.Load(dir.Path, new ModelLoadOptions()));
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("[48, 32]", e.Message);
        Assert.Contains("[50, 32]", e.Message);
    }

    [Fact]
    public void TruncatedFileNamesTheTensorAndFile()
    {
        using var dir = new TempDir();
        var path = WriteTiny(dir);
        using (var fs = new FileStream(path, FileMode.Open)) fs.SetLength(fs.Length - 10);
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("tensor '", e.Message);
    }

    [Theory]
    [InlineData("length")]
    [InlineData("json")]
    [InlineData("offsets")]
    [InlineData("dtype")]
    public void BadHeaderNamesTheFile(string what)
    {
        using var dir = new TempDir();
        var path = dir.File("bad.safetensors");
        string header = what switch
        {
            "json" => "{\"a\": {\"dtype\": \"F32\", ",
            "offsets" => "{\"a\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 12]}}",
            "dtype" => "{\"a\": {\"dtype\": \"Q4\", \"shape\": [2], \"data_offsets\": [0, 1]}}",
            _ => "{}",
        };
        var json = Encoding.UTF8.GetBytes(header);
        using (var fs = File.Create(path))
        {
            fs.Write(BitConverter.GetBytes(what == "length" ? 1L << 40 : json.Length));
            fs.Write(json);
            fs.Write(new byte[16]);
        }
        var e = Assert.Throws<InvalidDataException>(() => SafetensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        if (what is "offsets" or "dtype") Assert.Contains("tensor 'a'", e.Message);
    }

    [Fact]
    public void MissingModelFilesAreReported()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => HfCheckpoint.Open(dir.Path));
        File.WriteAllText(dir.File("config.json"), TinyConfigs.Gqa.ToJson());
        var e = Assert.Throws<FileNotFoundException>(() => HfCheckpoint.Open(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => HfCheckpoint.Open(dir.File("nope")));
    }
}
