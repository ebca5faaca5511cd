using ShareLoRA.Model;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Planning;
using Xunit;

namespace ShareLoRA.Training.Tests.Planning;

/// <summary>GPT-2 and RoBERTa shapes: the paper's small-model parameter counts, published totals, config.json reading.</summary>
public class FamilyShapeTests
{
    [Theory]
    [InlineData("roberta-large", 8, "lora", 786_432L)]
    [InlineData("roberta-large", 8, "share-a", 409_600L)]
    [InlineData("roberta-large", 8, "share-b", 409_600L)]
    [InlineData("roberta-large", 8, "share-ab", 32_768L)]
    [InlineData("gpt2-medium", 4, "lora", 393_216L)]
    [InlineData("gpt2-medium", 4, "share-a", 204_800L)]
    [InlineData("gpt2-medium", 4, "share-ab", 16_384L)]
    public void Adapter_counts_on_q_and_v(string preset, int rank, string method, long expected)
    {
        var count = ParameterCounter.Count(ModelPresets.Get(preset), SharingPolicy.Parse(method, ["q", "v"]), rank);
        Assert.Equal(expected, count.Trainable);
    }

    [Fact]
    public void Roberta_head_is_counted_apart_and_gpt2_head_not_at_all()
    {
        var policy = SharingPolicy.For(AdapterMethod.Lora, [TargetModule.Q, TargetModule.V]);
        // dense 1024 x 1024 + 1024, out_proj 2 x 1024 + 2
        Assert.Equal(1_051_650L, ParameterCounter.Count(ModelPresets.Get("roberta-large"), policy, 8).HeadTrainable);
        Assert.Equal(768L * 768 + 768 + 768 + 1, ParameterCounter.Count(ModelPresets.Get("roberta-base") with { NumLabels = 1 }, policy, 8).HeadTrainable);
        Assert.Equal(0L, ParameterCounter.Count(ModelPresets.Get("gpt2-medium"), policy, 4).HeadTrainable);
        Assert.Equal(0L, ParameterCounter.Count(ModelPresets.Get("llama-7b"), policy, 4).HeadTrainable);
    }

    [Theory]
    [InlineData("gpt2", 124_439_808L)]                // published GPT2LMHeadModel counts (tied head once)
    [InlineData("gpt2-medium", 354_823_168L)]
    [InlineData("gpt2-large", 774_030_080L)]
    [InlineData("roberta-base", 124_647_170L)]        // RobertaForSequenceClassification, 2 labels, no pooler
    [InlineData("roberta-large", 355_361_794L)]
    public void Totals_match_the_published_models(string preset, long total)
    {
        Assert.Equal(total, ModelPresets.Get(preset).TotalParameters);
    }

    [Fact]
    public void Gate_is_rejected_for_families_without_one()
    {
        var e = Assert.Throws<ArgumentException>(() => ParameterCounter.Count(ModelPresets.Get("gpt2-medium"), SharingPolicy.Parse("lora", ["q", "gate"]), 4));
        Assert.Equal("gpt2 has no gate module (adaptable: q, k, v, o, up, down)", e.Message);
        Assert.Equal((1024, 4096), ModelPresets.Get("roberta-large").Dims(TargetModule.Up));
        Assert.Equal((4096, 1024), ModelPresets.Get("roberta-large").Dims(TargetModule.Down));
    }

    [Fact]
    public void Config_json_of_each_family_gives_its_shape()
    {
        using var dir = new TempFolder();
        var gpt2 = new Gpt2Config(50257, 1024, 1024, 24, 16, 4096);
        dir.Write("gpt2/config.json", gpt2.ToJson());
        Assert.Equal(ModelPresets.Get("gpt2-medium"), ModelShape.FromHfConfigJson(Path.Combine(dir.Path, "gpt2")));
        var roberta = new RobertaConfig(50265, 1024, 24, 16, 4096, NumLabels: 3);
        dir.Write("roberta/config.json", roberta.ToJson());
        Assert.Equal(ModelPresets.Get("roberta-large") with { NumLabels = 3 }, ModelShape.FromHfConfigJson(Path.Combine(dir.Path, "roberta")));
    }

    [Fact]
    public void Shape_totals_equal_the_tensors_the_models_hold()
    {
        var g = new Gpt2Config(41, 9, 8, 2, 2, 12);
        using (var model = Gpt2Model.CreateRandom(g, 1))
            Assert.Equal(ModelShape.FromGpt2(g).TotalParameters, model.HfTensors().Sum(t => t.Value.NumberOfElements));
        var r = new RobertaConfig(41, 8, 2, 2, 12, MaxPositions: 11, TypeVocabSize: 2, NumLabels: 3);
        using (var model = RobertaModel.CreateRandom(r, 1))
        {
            Assert.Equal(ModelShape.FromRoberta(r).TotalParameters, model.HfTensors().Sum(t => t.Value.NumberOfElements));
            Assert.Equal(ModelShape.FromRoberta(r).ClassifierParameters, model.HeadParameters().Sum(p => p.Value.NumberOfElements));
        }
        // A pipeline stage's bytes: one block of each family.
        using (var block = Gpt2Model.CreateRandom(g, 1, new ModelLoadOptions(1, 2, false, false)))
            Assert.Equal(ModelShape.FromGpt2(g).LayerParameters, block.HfTensors().Sum(t => t.Value.NumberOfElements));
        using (var layer = RobertaModel.CreateRandom(r, 1, new ModelLoadOptions(0, 1, false, false)))
            Assert.Equal(ModelShape.FromRoberta(r).LayerParameters, layer.HfTensors().Sum(t => t.Value.NumberOfElements));
        Assert.Equal(ModelFamily.Gpt2, ModelShape.FromGpt2(g).Family);
    }
}
