using ShareLoRA.Model.IO;
using ShareLoRA.Model.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Llama;

/// <summary>Pieces of a model (embedding, layer ranges, head) compose to the whole; a range reads only its bytes.</summary>
public class LayerRangeTests
{
    private static readonly long[] Seq = [1, 9, 33, 2, 17, 60, 5];

    [Fact]
    public void RandomPiecesComposeToTheFullForward()
    {
        var c = TinyConfigs.Gqa;
        using var scope = NewDisposeScope();
        using var full = LlamaModel.CreateRandom(c, 21, initStd: 0.3);
        using var first = LlamaModel.CreateRandom(c, 21, new ModelLoadOptions(0, 2, IncludeEmbedding: true, IncludeHead: false), initStd: 0.3);
        using var second = LlamaModel.CreateRandom(c, 21, new ModelLoadOptions(2, 4, IncludeEmbedding: false, IncludeHead: true), initStd: 0.3);
        Assert.True(first.HasEmbedding && !first.HasHead && first.FirstLayer == 0 && first.EndLayer == 2);
        Assert.True(!second.HasEmbedding && second.HasHead && second.FirstLayer == 2 && second.EndLayer == 4);
        var ids = tensor(Seq).view(1, Seq.Length);
        var expected = full.Forward(ids);
        var actual = second.Logits(second.ForwardLayers(first.ForwardLayers(first.Embed(ids))));
        Assert.True(eq(expected, actual).all().item<bool>(), "piecewise logits differ from the full forward");
    }

    [Fact]
    public void LoadedRangeReadsOnlyItsTensorsAndComposes()
    {
        var c = TinyConfigs.Gqa;
        using var dir = new TempDir();
        using (var m = LlamaModel.CreateRandom(c, 4, initStd: 0.3)) m.Save(dir.Path);
        using var scope = NewDisposeScope();
        using var full = LlamaModel.Load(dir.Path, new ModelLoadOptions());

        using var checkpoint = HfCheckpoint.Open(dir.Path);
        using var middle = LlamaModel.Load(checkpoint, new ModelLoadOptions(1, 3, IncludeEmbedding: false, IncludeHead: false));
        long expectedBytes = Enumerable.Range(1, 2).SelectMany(HfKeys.LayerTensors).Sum(n => checkpoint.Entry(n).ByteCount);
        Assert.Equal(expectedBytes, checkpoint.BytesRead);

        using var cp2 = HfCheckpoint.Open(dir.Path);
        using var last = LlamaModel.Load(cp2, new ModelLoadOptions(3, null, IncludeEmbedding: false, IncludeHead: true));
        // Tied head: the embedding table stands in for lm_head; it and the final norm are all the head reads.
        long headBytes = HfKeys.LayerTensors(3).Append(HfKeys.FinalNorm).Append(HfKeys.EmbedTokens).Sum(n => cp2.Entry(n).ByteCount);
        Assert.Equal(headBytes, cp2.BytesRead);

        using var cp3 = HfCheckpoint.Open(dir.Path);
        using var firstPart = LlamaModel.Load(cp3, new ModelLoadOptions(0, 1, IncludeEmbedding: true, IncludeHead: false));
        var ids = tensor(Seq).view(1, Seq.Length);
        var actual = last.Logits(last.ForwardLayers(middle.ForwardLayers(firstPart.ForwardLayers(firstPart.Embed(ids)))));
        Assert.True(eq(full.Forward(ids), actual).all().item<bool>());
    }

    [Fact]
    public void TiedFullModelReadsTheEmbeddingOnce()
    {
        using var dir = new TempDir();
        using (var m = LlamaModel.CreateRandom(TinyConfigs.Gqa, 4)) m.Save(dir.Path);
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        using var model = LlamaModel.Load(checkpoint, new ModelLoadOptions());
        Assert.Equal(new FileInfo(dir.File("model.safetensors")).Length - HeaderBytes(dir.File("model.safetensors")), checkpoint.BytesRead);
    }

    private static long HeaderBytes(string path)
    {
        using var f = File.OpenRead(path);
        var b = new byte[8];
        f.ReadExactly(b);
        return 8 + BitConverter.ToInt64(b);
    }

    [Fact]
    public void BaseWeightsAreFrozen()
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Untied, 1);
        Assert.NotEmpty(model.parameters());
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        foreach (var p in model.parameters()) p.requires_grad = true;
        model.Freeze();
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        // 1 embedding + 9 per layer + final norm + lm_head
        Assert.Equal(1 + 9 * TinyConfigs.Untied.NumHiddenLayers + 2, model.parameters().Count());
    }

    [Theory]
    [InlineData("gqa")]
    [InlineData("untied")]
    public void SaveThenLoadGivesTheSameModel(string configName)
    {
        var c = TinyConfigs.ByName(configName);
        using var dir = new TempDir();
        using var model = LlamaModel.CreateRandom(c, 8, initStd: 0.3);
        model.Save(dir.Path);
        using var checkpoint = HfCheckpoint.Open(dir.Path);
        Assert.Equal(!c.TieWordEmbeddings, checkpoint.Contains(HfKeys.LmHead));
        Assert.Equal(c with { TorchDtype = "float32" }, checkpoint.Config);
        using var loaded = LlamaModel.Load(dir.Path, new ModelLoadOptions());
        using var ids = tensor(Seq).view(1, Seq.Length);
        using var a = model.Forward(ids);
        using var b = loaded.Forward(ids);
        Assert.True(eq(a, b).all().item<bool>());
    }

    [Fact]
    public void Bf16ModelRunsAndStaysClose()
    {
        using var model = LlamaModel.CreateRandom(TinyConfigs.Gqa, 2, new ModelLoadOptions(DType: ScalarType.BFloat16));
        using var fp32 = LlamaModel.CreateRandom(TinyConfigs.Gqa, 2);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        using var ids = tensor(Seq).view(1, Seq.Length);
        using var a = model.Forward(ids);
        using var b = fp32.Forward(ids);
        using var diff = (a.to(ScalarType.Float32) - b).abs().max();
        Assert.True(diff.item<float>() < 0.05, $"bf16 vs fp32 max difference {diff.item<float>()}");
    }

    [Fact]
    public void BadRangeIsRejected()
    {
        Assert.Throws<ArgumentException>(() => LlamaModel.CreateRandom(TinyConfigs.Gqa, 1, new ModelLoadOptions(3, 2)));
        Assert.Throws<ArgumentException>(() => LlamaModel.CreateRandom(TinyConfigs.Gqa, 1, new ModelLoadOptions(0, 5)));
    }
}
