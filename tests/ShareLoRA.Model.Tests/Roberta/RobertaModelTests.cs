using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Roberta;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Roberta;

/// <summary>RoBERTa against a naive double-precision reference: padding, positions, adapters, gradients, layer ranges, checkpoints.</summary>
public class RobertaModelTests
{
    private static readonly RobertaConfig Tiny = new(VocabSize: 29, HiddenSize: 12, NumLayers: 3, NumHeads: 3, IntermediateSize: 20,
        MaxPositions: 12, TypeVocabSize: 2, NumLabels: 3);
    private const double InitStd = 0.3;
    // The classifier output is squeezed by LayerNorm and tanh: swapping erf GELU for the tanh approximation moves it by
    // only ~1e-4, while a correct float32 forward stays within ~1e-6 of the naive one. 1e-5 tells them apart.
    private const double Tolerance = 1e-5;
    // Row 0 is full; row 1 is the same sentence shorter, right-padded with <pad> = 1 and masked.
    private static readonly int[][] Rows = [[0, 7, 12, 5, 28, 9, 2], [0, 7, 12, 5, 2, 1, 1]];
    private static readonly int[][] Masks = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]];

    private static Tensor Batch(int[][] rows) => tensor(rows.SelectMany(r => r.Select(i => (long)i)).ToArray()).view(rows.Length, rows[0].Length);

    private static void AssertMatchesNaive(RobertaModel model, NaiveRoberta naive, Tensor logits, string what)
    {
        for (int r = 0; r < Rows.Length; r++)
        {
            var worst = NaiveMath.MaxAbsDifference(naive.Logits(Rows[r], Masks[r]), logits[r]);
            Assert.True(worst < Tolerance, $"{what} row {r}: max |logit difference| {worst:E3}");
        }
    }

    [Fact]
    public void SavedAndLoadedLogitsMatchNaiveReferenceWithPadding()
    {
        using var dir = new TempDir();
        using (var m = RobertaModel.CreateRandom(Tiny, 7, initStd: InitStd)) m.Save(dir.Path);
        using var model = RobertaModel.Load(dir.Path, new ModelLoadOptions());
        Assert.True(model.HeadFromCheckpoint);
        Assert.Equal(Tiny with { TorchDtype = "float32" }, model.Config);
        using var ids = Batch(Rows);
        using var mask = Batch(Masks);
        using var logits = model.Forward(ids, mask);
        Assert.Equal([2, Tiny.NumLabels], logits.shape);
        AssertMatchesNaive(model, new NaiveRoberta(model), logits, "base");
        // Padding changes nothing: the padded row equals the same sentence run alone without padding.
        using var alone = model.Forward(Batch([Rows[1][..5]]));
        Assert.True(allclose(alone[0], logits[1], rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void PositionIdsSkipPaddingLikeHuggingFace()
    {
        int[][] rows = [[0, 5, 6, 2, 1, 1], [1, 1, 0, 7, 2, 8]];
        using var ids = Batch(rows);
        using var positions = RobertaEmbeddings.PositionIds(ids, 1);
        Assert.Equal(new long[] { 2, 3, 4, 5, 1, 1, 1, 1, 2, 3, 4, 5 }, positions.data<long>().ToArray());
        Assert.Equal(NaiveRoberta.Positions(rows[1], 1), positions[1].data<long>().ToArray());
    }

    [Fact]
    public void TokenTypesAreEmbedded()
    {
        using var model = RobertaModel.CreateRandom(Tiny, 2, initStd: InitStd);
        int[] types = [0, 0, 0, 1, 1, 1, 1];
        using var ids = Batch([Rows[0]]);
        using var typeIds = Batch([types]);
        using var logits = model.Forward(ids, tokenTypeIds: typeIds);
        var worst = NaiveMath.MaxAbsDifference(new NaiveRoberta(model).Logits(Rows[0], null, types), logits);
        Assert.True(worst < Tolerance, $"max |logit difference| {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(FamilyAdapters.Methods), MemberType = typeof(FamilyAdapters))]
    public void AdaptedLogitsMatchNaiveReference(string method)
    {
        using var model = RobertaModel.CreateRandom(Tiny, 3, initStd: InitStd);
        using var bank = FamilyAdapters.Bank(method, Tiny.NumLayers, RobertaModel.AdapterDims(Tiny), ScalarType.Float32, 11);
        using var ids = Batch(Rows);
        using var mask = Batch(Masks);
        using var logits = model.Forward(ids, mask, adapters: bank);
        using var plain = model.Forward(ids, mask);
        Assert.True((logits - plain).abs().max().item<float>() > 1e-2, "adapters had no visible effect");
        AssertMatchesNaive(model, new NaiveRoberta(model, new NaiveLora(bank)), logits, method);
    }

    [Fact]
    public void AllSupportedModulesMatchNaiveReference()
    {
        using var model = RobertaModel.CreateRandom(Tiny, 4, initStd: InitStd);
        using var bank = FamilyAdapters.Bank("lora", Tiny.NumLayers, RobertaModel.AdapterDims(Tiny), ScalarType.Float32, 12, RobertaModel.SupportedTargets);
        using var logits = model.Forward(Batch(Rows), Batch(Masks), adapters: bank);
        AssertMatchesNaive(model, new NaiveRoberta(model, new NaiveLora(bank)), logits, "all modules");
    }

    [Theory]
    [MemberData(nameof(FamilyAdapters.Methods), MemberType = typeof(FamilyAdapters))]
    public void AdapterGradientsMatchCentralDifferencesInFloat64(string method)
    {
        var c = Tiny with { HiddenSize = 6, NumHeads = 2, IntermediateSize = 10, NumLayers = 2 };
        using var model = RobertaModel.CreateRandom(c, 5, new ModelLoadOptions(DType: ScalarType.Float64), initStd: InitStd);
        using var bank = FamilyAdapters.Bank(method, c.NumLayers, RobertaModel.AdapterDims(c), ScalarType.Float64, 13);
        using var ids = Batch(Rows);
        using var mask = Batch(Masks);
        using var labels = tensor(new long[] { 2, 0 });
        int n = FamilyAdapters.CheckGradients(bank, () => RobertaModel.Loss(model.Forward(ids, mask, adapters: bank), labels, c.NumLabels), method);
        Assert.Equal(bank.Layout.TrainableParameterCount, n);
        // The head trains; the encoder stays frozen.
        Assert.All(model.HeadParameters(), p => Assert.True(p.Value.grad is { } g && g.abs().sum().item<double>() > 0, p.Key));
        var head = model.HeadParameters().Select(p => p.Value).ToHashSet();
        Assert.All(model.parameters().Where(p => !head.Contains(p)), p => Assert.Null(p.grad));
    }

    [Fact]
    public void RegressionHeadUsesMeanSquaredError()
    {
        using var model = RobertaModel.CreateRandom(Tiny with { NumLabels = 1 }, 6, initStd: InitStd);
        Assert.True(model.Config.IsRegression);
        using var logits = model.Forward(Batch(Rows), Batch(Masks));
        Assert.Equal([2, 1], logits.shape);
        using var labels = tensor(new[] { 0.5f, 3.25f });
        using var loss = RobertaModel.Loss(logits, labels, 1);
        var v = NaiveMath.Values(logits);
        double expected = ((v[0] - 0.5) * (v[0] - 0.5) + (v[1] - 3.25) * (v[1] - 3.25)) / 2;
        Assert.Equal(expected, loss.item<float>(), 4);
    }

    [Fact]
    public void LayerRangesComposeToTheFullForward()
    {
        using var scope = NewDisposeScope();
        using var full = RobertaModel.CreateRandom(Tiny, 21, initStd: InitStd);
        using var first = RobertaModel.CreateRandom(Tiny, 21, new ModelLoadOptions(0, 2, IncludeEmbedding: true, IncludeHead: false), initStd: InitStd);
        using var second = RobertaModel.CreateRandom(Tiny, 21, new ModelLoadOptions(2, 3, IncludeEmbedding: false, IncludeHead: true), initStd: InitStd);
        using var bank = FamilyAdapters.Bank("share-b", Tiny.NumLayers, RobertaModel.AdapterDims(Tiny), ScalarType.Float32, 2);
        var ids = Batch(Rows);
        var mask = Batch(Masks);
        var expected = full.Forward(ids, mask, adapters: bank);
        var actual = second.Logits(second.ForwardLayers(first.ForwardLayers(first.Embed(ids), mask, bank), mask, bank));
        Assert.True(eq(expected, actual).all().item<bool>(), "piecewise logits differ from the full forward");
    }

    [Fact]
    public void PretrainedEncoderWithoutClassifierGetsAFreshHead()
    {
        using var dir = new TempDir();
        using (var m = RobertaModel.CreateRandom(Tiny, 7, initStd: InitStd)) m.Save(dir.Path);
        // A pre-trained checkpoint: bare RobertaModel keys (no "roberta." prefix) and no classifier.
        var bare = ReadAll(dir.File("model.safetensors"))
            .Where(t => t.Key.StartsWith(RobertaKeys.Prefix, StringComparison.Ordinal))
            .ToDictionary(t => t.Key[RobertaKeys.Prefix.Length..], t => t.Value);
        SafetensorsWriter.Write(dir.File("model.safetensors"), bare);
        using var model = RobertaModel.Load(dir.Path, new ModelLoadOptions(), headSeed: 3);
        Assert.False(model.HeadFromCheckpoint);
        Assert.True(model.Head!.DenseBias.abs().max().item<float>() == 0);
        var std = model.Head.DenseWeight.std().item<float>();
        Assert.InRange(std, 0.01, 0.03);
        Assert.All(model.HeadParameters(), p => Assert.True(p.Value.requires_grad));
        using var logits = model.Forward(Batch(Rows), Batch(Masks));
        AssertMatchesNaive(model, new NaiveRoberta(model), logits, "fresh head");
    }

    [Fact]
    public void MissingTensorIsNamedWithTheFile()
    {
        using var dir = new TempDir();
        using (var m = RobertaModel.CreateRandom(Tiny, 7)) m.Save(dir.Path);
        var tensors = ReadAll(dir.File("model.safetensors"));
        tensors.Remove(RobertaKeys.Weight(1, RobertaKeys.Value));
        SafetensorsWriter.Write(dir.File("model.safetensors"), tensors);
        var e = Assert.Throws<InvalidDataException>(() => RobertaModel.Load(dir.Path, new ModelLoadOptions()));
        Assert.Contains("'roberta.encoder.layer.1.attention.self.value.weight'", e.Message);
        Assert.Contains(dir.File("model.safetensors"), e.Message);
    }

    [Fact]
    public void ConfigReadsNumLabelsFromId2Label()
    {
        var c = RobertaConfig.Parse("""{"model_type":"roberta","vocab_size":50265,"hidden_size":1024,"num_hidden_layers":24,"num_attention_heads":16,"intermediate_size":4096,"max_position_embeddings":514,"type_vocab_size":1,"layer_norm_eps":1e-05,"pad_token_id":1,"id2label":{"0":"A","1":"B","2":"C"}}""", "config.json");
        Assert.Equal(3, c.NumLabels);
        Assert.Equal(new RobertaConfig(50265, 1024, 24, 16, 4096, 514, 1, 1e-5, 1, 3), c);
        Assert.Equal(c, RobertaConfig.Parse(c.ToJson(), "round trip"));
        var e = Assert.Throws<InvalidDataException>(() => RobertaConfig.Parse("""{"model_type":"bert","vocab_size":5}""", "x/config.json"));
        Assert.Equal("x/config.json: model_type must be \"roberta\" (got \"bert\")", e.Message);
    }

    [Fact]
    public void FreezeKeepsOnlyTheHeadTrainable()
    {
        using var model = RobertaModel.CreateRandom(Tiny, 1);
        foreach (var p in model.parameters()) p.requires_grad = true;
        model.Freeze();
        var head = model.HeadParameters().Select(p => p.Value).ToHashSet();
        Assert.Equal(4, head.Count);
        Assert.All(model.parameters(), p => Assert.Equal(head.Contains(p), p.requires_grad));
    }

    private static Dictionary<string, Tensor> ReadAll(string path)
    {
        using var f = SafetensorsFile.Open(path);
        return f.Entries.Keys.ToDictionary(n => n, n => f.Read(n, ScalarType.Float32, CPU));
    }
}
