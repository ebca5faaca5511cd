using ShareLoRA.Model.IO;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.IO;

public sealed class SafetensorsWriterTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"sharelora-writer-tests-{Guid.NewGuid():N}");

    public SafetensorsWriterTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void StreamingWriteGivesTheSameBytesAsWritingAList()
    {
        using var a = arange(6, ScalarType.Float64).reshape(2, 3);
        using var b = ones([4], ScalarType.BFloat16);
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        var listPath = Path.Combine(_dir, "list.safetensors");
        var streamPath = Path.Combine(_dir, "stream.safetensors");
        SafetensorsWriter.Write(listPath, [("a", a), ("b", b)], meta);
        var specs = new[] { new SafetensorsWriter.TensorSpec("a", ScalarType.Float64, [2, 3]), new SafetensorsWriter.TensorSpec("b", ScalarType.BFloat16, [4]) };
        var produced = new List<string>();
        SafetensorsWriter.Write(streamPath, specs, spec =>
        {
            produced.Add(spec.Name);
            return (spec.Name == "a" ? a : b).clone();   // the writer disposes what it is given
        }, meta);
        Assert.Equal(["a", "b"], produced);
        Assert.Equal(File.ReadAllBytes(listPath), File.ReadAllBytes(streamPath));
        Assert.False(File.Exists(streamPath + ".tmp"));
    }

    [Fact]
    public void StreamingWriteRefusesATensorThatDiffersFromItsSpecAndLeavesNoFile()
    {
        var path = Path.Combine(_dir, "bad.safetensors");
        var specs = new[] { new SafetensorsWriter.TensorSpec("w", ScalarType.Float32, [2, 2]) };
        var e = Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, specs, _ => zeros([2, 3])));
        Assert.Contains("'w'", e.Message);
        Assert.Empty(Directory.GetFiles(_dir));
    }
}
