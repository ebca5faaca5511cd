using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Gpt2;

/// <summary>GPT-2 against a naive double-precision reference; adapters, gradients, layer ranges, checkpoint layout.</summary>
public class Gpt2ModelTests
{
    // n_inner deliberately not 4 x n_embd, and every matrix non-square where the layout allows, so orientation errors show.
    private static readonly Gpt2Config Tiny = new(VocabSize: 37, MaxPositions: 16, HiddenSize: 12, NumLayers: 3, NumHeads: 3, InnerSize: 20);
    private static readonly int[] Ids = [5, 0, 36, 7, 7, 21, 3, 14, 9];
    private const double InitStd = 0.3;
    // A correct float32 forward stays within ~1e-6 of the naive one; the erf GELU in place of the tanh form moves the
    // logits by ~4e-4. 1e-5 (tighter than the 1e-4 asked for) keeps that margin wide.
    private const double Tolerance = 1e-5;

    private static Tensor IdTensor(int[] ids) => tensor(ids.Select(i => (long)i).ToArray()).view(1, ids.Length);

    [Fact]
    public void SavedAndLoadedLogitsMatchNaiveReference()
    {
        using var dir = new TempDir();
        using (var m = Gpt2Model.CreateRandom(Tiny, 7, initStd: InitStd)) m.Save(dir.Path);
        using var model = Gpt2Model.Load(dir.Path, new ModelLoadOptions());
        Assert.Equal(Tiny with { TorchDtype = "float32" }, model.Config);
        using var ids = IdTensor(Ids);
        using var logits = model.Forward(ids);
        Assert.Equal([1, Ids.Length, Tiny.VocabSize], logits.shape);
        var worst = NaiveMath.MaxAbsDifference(new NaiveGpt2(model).Logits(Ids), logits);
        Assert.True(worst < Tolerance, $"max |logit difference| {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(FamilyAdapters.Methods), MemberType = typeof(FamilyAdapters))]
    public void AdaptedLogitsMatchNaiveReference(string method)
    {
        using var model = Gpt2Model.CreateRandom(Tiny, 3, initStd: InitStd);
        using var bank = FamilyAdapters.Bank(method, Tiny.NumLayers, Gpt2Model.AdapterDims(Tiny), ScalarType.Float32, 11);
        using var ids = IdTensor(Ids);
        using var logits = model.Forward(ids, adapters: bank);
        using var plain = model.Forward(ids);
        Assert.True((logits - plain).abs().max().item<float>() > 1e-2, "adapters had no visible effect");
        var worst = NaiveMath.MaxAbsDifference(new NaiveGpt2(model, new NaiveLora(bank)).Logits(Ids), logits);
        Assert.True(worst < Tolerance, $"{method}: max |logit difference| {worst:E3}");
    }

    [Fact]
    public void AllSupportedModulesMatchNaiveReference()
    {
        using var model = Gpt2Model.CreateRandom(Tiny, 4, initStd: InitStd);
        using var bank = FamilyAdapters.Bank("share-a", Tiny.NumLayers, Gpt2Model.AdapterDims(Tiny), ScalarType.Float32, 12, Gpt2Model.SupportedTargets);
        using var ids = IdTensor(Ids);
        using var logits = model.Forward(ids, adapters: bank);
        var worst = NaiveMath.MaxAbsDifference(new NaiveGpt2(model, new NaiveLora(bank)).Logits(Ids), logits);
        Assert.True(worst < Tolerance, $"max |logit difference| {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(FamilyAdapters.Methods), MemberType = typeof(FamilyAdapters))]
    public void AdapterGradientsMatchCentralDifferencesInFloat64(string method)
    {
        var c = Tiny with { HiddenSize = 6, NumHeads = 2, InnerSize = 10, NumLayers = 2 };
        using var model = Gpt2Model.CreateRandom(c, 5, new ModelLoadOptions(DType: ScalarType.Float64), initStd: InitStd);
        using var bank = FamilyAdapters.Bank(method, c.NumLayers, Gpt2Model.AdapterDims(c), ScalarType.Float64, 13);
        using var ids = IdTensor([3, 1, 4, 1, 5]);
        using var weights = randn([1, 5, c.VocabSize], ScalarType.Float64, generator: new Generator(17, CPU));
        int n = FamilyAdapters.CheckGradients(bank, () => (model.Forward(ids, adapters: bank) * weights).sum(), method);
        Assert.Equal(bank.Layout.TrainableParameterCount, n);
        Assert.All(model.parameters(), p => Assert.Null(p.grad));
    }

    [Fact]
    public void LayerRangesComposeToTheFullForward()
    {
        using var scope = NewDisposeScope();
        using var full = Gpt2Model.CreateRandom(Tiny, 21, initStd: InitStd);
        using var first = Gpt2Model.CreateRandom(Tiny, 21, new ModelLoadOptions(0, 1, IncludeEmbedding: true, IncludeHead: false), initStd: InitStd);
        using var second = Gpt2Model.CreateRandom(Tiny, 21, new ModelLoadOptions(1, 3, IncludeEmbedding: false, IncludeHead: true), initStd: InitStd);
        using var bank = FamilyAdapters.Bank("share-ab", Tiny.NumLayers, Gpt2Model.AdapterDims(Tiny), ScalarType.Float32, 2);
        var ids = IdTensor(Ids);
        var expected = full.Forward(ids, adapters: bank);
        var actual = second.Logits(second.ForwardLayers(first.ForwardLayers(first.Embed(ids), adapters: bank), adapters: bank));
        Assert.True(eq(expected, actual).all().item<bool>(), "piecewise logits differ from the full forward");
    }

    [Fact]
    public void KvCacheChunksMatchTheFullForward()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Model.CreateRandom(Tiny, 9, initStd: InitStd);
        // Beam search runs [beams, s]: two rows at once.
        var ids = cat([IdTensor(Ids), IdTensor(Ids.Reverse().ToArray())], 0);
        var full = model.Forward(ids);
        using var cache = new KvCache();
        var a = model.Forward(ids.narrow(1, 0, 5), 0, cache);
        var b = model.Forward(ids.narrow(1, 5, 1), 5, cache);
        var c = model.Forward(ids.narrow(1, 6, 3), 6, cache);
        var chunked = cat([a, b, c], 1);
        Assert.True(allclose(full, chunked, rtol: 1e-4, atol: 1e-5), $"max diff {(full - chunked).abs().max().item<float>()}");
    }

    [Fact]
    public void Conv1DWeightsAreReadAsInputByOutput()
    {
        // c_proj is square, so reading [in, out] as [out, in] would pass every shape check: compare against explicit loops.
        using var model = Gpt2Model.CreateRandom(Tiny, 1, initStd: InitStd);
        var proj = model.Layers[0].Attention.CProj;
        using var x = randn([1, 1, Tiny.HiddenSize], generator: new Generator(3, CPU));
        using var y = proj.Forward(x);
        var w = NaiveMath.Values(proj.Weight);
        var b = NaiveMath.Values(proj.Bias);
        var xv = NaiveMath.Values(x);
        var expected = NaiveMath.InputMajor(w, b, xv);
        var transposed = NaiveMath.OutputMajor(w, b, xv, Tiny.HiddenSize);
        Assert.True(NaiveMath.MaxAbsDifference(expected, y) < 1e-5);
        Assert.True(NaiveMath.MaxAbsDifference(transposed, y) > 1e-2, "weight was used transposed");
        // The fused c_attn is [in, 3 in] in the checkpoint.
        Assert.Equal([Tiny.HiddenSize, 3L * Tiny.HiddenSize], model.Layers[0].Attention.CAttn.Weight.shape);
    }

    [Fact]
    public void TransposedCheckpointTensorIsRejectedNamingTensorAndFile()
    {
        using var dir = new TempDir();
        using (var m = Gpt2Model.CreateRandom(Tiny, 7)) m.Save(dir.Path);
        var tensors = ReadAll(dir.File("model.safetensors"));
        var name = Gpt2Keys.Weight(1, "mlp.c_fc");
        tensors[name] = tensors[name].t().contiguous();   // stored [out, in] by mistake
        SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
        var e = Assert.Throws<InvalidDataException>(() => Gpt2Model.Load(dir.Path, new ModelLoadOptions()));
        Assert.Contains(name, e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("[20, 12]", e.Message);
    }

    [Fact]
    public void MissingTensorIsNamedWithTheFile()
    {
        using var dir = new TempDir();
        using (var m = Gpt2Model.CreateRandom(Tiny, 7)) m.Save(dir.Path);
        var tensors = ReadAll(dir.File("model.safetensors"));
        tensors.Remove(Gpt2Keys.Bias(2, "attn.c_attn"));
        SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
        var e = Assert.Throws<InvalidDataException>(() => Gpt2Model.Load(dir.Path, new ModelLoadOptions()));
        Assert.Contains("'transformer.h.2.attn.c_attn.bias'", e.Message);
        Assert.Contains(dir.File("model.safetensors"), e.Message);
        // A range that does not need layer 2 loads fine.
        using var part = Gpt2Model.Load(dir.Path, new ModelLoadOptions(0, 2, IncludeHead: false));
        Assert.Equal(2, part.EndLayer);
    }

    [Fact]
    public void LlamaLoaderRejectsAGpt2DirectoryAndTensorOnlyCheckpointsHaveNoLlamaConfig()
    {
        using var dir = new TempDir();
        using (var m = Gpt2Model.CreateRandom(Tiny, 7)) m.Save(dir.Path);
        var e = Assert.Throws<InvalidDataException>(() => HfCheckpoint.Open(dir.Path));
        Assert.Contains("config.json", e.Message);
        using var checkpoint = HfCheckpoint.OpenTensors(dir.Path);
        Assert.True(checkpoint.Contains(Gpt2Keys.TokenEmbedding));
        var c = Assert.Throws<InvalidOperationException>(() => checkpoint.Config);
        Assert.Contains(dir.Path, c.Message);
    }

    [Fact]
    public void CheckpointWithoutTransformerPrefixLoads()
    {
        using var dir = new TempDir();
        using var original = Gpt2Model.CreateRandom(Tiny, 8, initStd: InitStd);
        original.Save(dir.Path);
        var bare = ReadAll(dir.File("model.safetensors")).ToDictionary(t => t.Key[Gpt2Keys.Prefix.Length..], t => t.Value);
        SafetensorsWriter.Write(dir.File("model.safetensors"), bare);
        using var loaded = Gpt2Model.Load(dir.Path, new ModelLoadOptions());
        using var ids = IdTensor(Ids);
        Assert.True(eq(original.Forward(ids), loaded.Forward(ids)).all().item<bool>());
    }

    [Fact]
    public void ConfigParsesHfFieldsAndRejectsOtherActivations()
    {
        var c = Gpt2Config.Parse("""{"model_type":"gpt2","vocab_size":50257,"n_positions":1024,"n_embd":1024,"n_layer":24,"n_head":16,"n_inner":null,"activation_function":"gelu_new","layer_norm_epsilon":1e-05}""", "config.json");
        Assert.Equal(new Gpt2Config(50257, 1024, 1024, 24, 16, 4096, 1e-5, null, null), c);
        var e = Assert.Throws<InvalidDataException>(() => Gpt2Config.Parse("""{"vocab_size":5,"n_embd":4,"n_layer":1,"n_head":2,"activation_function":"relu"}""", "x/config.json"));
        Assert.Equal("x/config.json: activation_function must be \"gelu_new\" (got \"relu\")", e.Message);
        e = Assert.Throws<InvalidDataException>(() => Gpt2Config.Parse("""{"vocab_size":5,"n_layer":1,"n_head":2}""", "x/config.json"));
        Assert.Equal("x/config.json: required field n_embd is missing", e.Message);
    }

    [Fact]
    public void BaseWeightsAreFrozenAndTheHeadIsTied()
    {
        using var model = Gpt2Model.CreateRandom(Tiny, 1);
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        Assert.True(eq(model.Head!.Weight, model.Embedding!.TokenWeight).all().item<bool>());
        Assert.DoesNotContain(model.HfTensors(), t => t.Key == Gpt2Keys.LmHead);
        // wte, wpe + 12 per block + ln_f weight and bias
        Assert.Equal(2 + 12 * Tiny.NumLayers + 2, model.HfTensors().Count());
    }

    private static Dictionary<string, Tensor> ReadAll(string path)
    {
        using var f = SafetensorsFile.Open(path);
        return f.Entries.Keys.ToDictionary(n => n, n => f.Read(n, ScalarType.Float32, CPU));
    }
}
