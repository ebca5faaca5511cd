using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.E2e;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.SmallSystems;

/// <summary>E2eTrainer on a tiny random GPT-2 with the real GPT-2 BPE; the repo's label-smoothed loss against its closed form.</summary>
public class E2eTrainerTests
{
    internal static readonly Gpt2Config Tiny = new(VocabSize: 50257, MaxPositions: 96, HiddenSize: 16, NumLayers: 2, NumHeads: 2, InnerSize: 32);

    internal const string Csv =
        "mr,ref\n" +
        "\"name[The Vaults], eatType[pub], priceRange[more than £30]\",The Vaults is an expensive pub.\n" +
        "\"name[The Vaults], eatType[pub], priceRange[more than £30]\",\"The Vaults is a pub, prices more than £30.\"\n" +
        "\"name[Cotto], food[Italian], area[city centre]\",Cotto serves Italian food in the city centre.\n" +
        "\"name[Alimentum], familyFriendly[no]\",Alimentum is not family friendly.\n";

    [SkippableFact]
    public void LossDecreasesOverThirtyStepsAndGenerationRuns()
    {
        using var tokenizer = ByteLevelBpe.Load(SharedAssets.RequireDirectory("tokenizers/gpt2"));
        var instances = E2eReader.ParseCsv(Csv, "train.csv");
        var pairs = E2eMeaningRepresentation.TrainingPairs(instances);
        using var model = Gpt2Model.CreateRandom(Tiny, 9, initStd: 0.1);
        var hyper = new E2eHyperparameters(LearningRate: 2e-2, WarmupSteps: 3, BatchSize: 4, MaxSeqLen: 96, Dropout: 0.0);
        using var trainer = new E2eTrainer(model, tokenizer, new E2eTrainingOptions(AdapterMethod.ShareA, hyper, Steps: 30, EvalEvery: 30, Seed: 1));
        double before = trainer.ValidationLoss(pairs);
        var result = trainer.Train(pairs, pairs);
        Assert.Equal(30, result.Losses.Count);
        Assert.True(result.Losses.TakeLast(5).Average() < result.Losses.Take(5).Average() - 0.5,
            $"train loss {result.Losses.Take(5).Average():F3} -> {result.Losses.TakeLast(5).Average():F3}");
        Assert.True(result.ValidLosses[^1].Loss < before - 0.5, $"valid loss {before:F3} -> {result.ValidLosses[^1].Loss:F3}");

        var outputs = E2eGenerator.Generate(model, trainer.Bank, tokenizer, instances.Take(2).ToList(),
            new BeamSearchOptions(Beams: 3, MaxNewTokens: 8));
        Assert.Equal(2, outputs.Count);
    }

    [SkippableFact]
    public void SequencesFollowTheLoraRepoLayout()
    {
        using var tokenizer = ByteLevelBpe.Load(SharedAssets.RequireDirectory("tokenizers/gpt2"));
        var encoder = new E2eSequenceEncoder(tokenizer, 50256);
        var (ids, q) = encoder.Encode(new E2eTrainingPair("name : Cotto", "Cotto is nice."), 512);
        var context = tokenizer.Encode("name : Cotto", false);
        var completion = tokenizer.Encode(" Cotto is nice.", false);
        Assert.Equal([.. context, 50256, .. completion, 50256], ids);
        Assert.Equal(context.Count + 1, q);
    }

    [Fact]
    public void LabelSmoothingEqualsTheClosedForm()
    {
        // One row, vocab 3, two positions; only the second counts. logits [0, ln 2, ln 3] -> p = [1/6, 2/6, 3/6], target 2.
        using var logits = tensor(new float[] { 5, 1, 2, 0, (float)Math.Log(2), (float)Math.Log(3) }).view(1, 2, 3);
        using var targets = tensor(new long[] { 0, 2 }).view(1, 2);
        using var mask = tensor(new float[] { 0, 1 }).view(1, 2);
        double eps = 0.1;
        double nll = -Math.Log(3.0 / 6);
        double smooth = -(Math.Log(1.0 / 6) + Math.Log(2.0 / 6) + Math.Log(3.0 / 6)) / 3;
        double expected = ((1 - eps) * nll + eps * smooth) / (1 + 0.0001);
        using var loss = LabelSmoothedLoss.Compute(logits, targets, mask, eps);
        Assert.Equal(expected, loss.item<float>(), 5);
        using var plain = LabelSmoothedLoss.Compute(logits, targets, mask, 0);
        Assert.Equal(nll / 1.0001, plain.item<float>(), 5);
    }
}
