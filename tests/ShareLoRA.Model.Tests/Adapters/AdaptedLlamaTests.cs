using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

/// <summary>Adapter banks driving the real Llama model: identity at init, gradients, shared-gradient sums.</summary>
public class AdaptedLlamaTests
{
    private static readonly int[] Sequence = [1, 5, 9, 15, 0, 7, 3, 12, 2];

    [Theory]
    [MemberData(nameof(TinyAdaptedLlama.AllMethods), MemberType = typeof(TinyAdaptedLlama))]
    public void AtInitTheAdaptedModelsLogitsEqualTheBaseModelsExactly(string method)
    {
        var config = TinyAdaptedLlama.Config(layers: 3);
        using var model = LlamaModel.CreateRandom(config, seed: 4, initStd: 0.3);
        using var bank = AdapterBank.Create(TinyAdaptedLlama.Layout(config, method), seed: 9);
        bank.Context = AdapterForwardContext.Train(step: 1, microBatch: 0);   // dropout on: the B = 0 branch is still zero
        using var ids = TinyAdaptedLlama.Ids(Sequence);
        using var plain = model.Forward(ids);
        using var adapted = model.Forward(ids, adapters: bank);
        Assert.True(eq(plain, adapted).all().item<bool>(), $"{method}: logits changed at init");
        // A is non-zero (kaiming) and the adapters really ran: a non-zero B changes the logits.
        TinyAdaptedLlama.RandomizeB(bank, 5);
        using var changed = model.Forward(ids, adapters: bank);
        Assert.False(eq(plain, changed).all().item<bool>());
    }

    /// <summary>
    /// Autograd through the whole model (embedding, RoPE, GQA attention, SwiGLU, head, cross-entropy) against central
    /// differences for every adapter tensor (its first, last and two inner elements, to keep the test fast); float64
    /// model and bank, dropout on.
    /// </summary>
    [Theory]
    [MemberData(nameof(TinyAdaptedLlama.AllMethods), MemberType = typeof(TinyAdaptedLlama))]
    public void LossGradientThroughTheWholeModelMatchesCentralDifferencesInFloat64(string method)
    {
        var config = TinyAdaptedLlama.Config();
        using var model = LlamaModel.CreateRandom(config, seed: 6, new ModelLoadOptions(DType: ScalarType.Float64), initStd: 0.3);
        using var bank = AdapterBank.Create(TinyAdaptedLlama.Layout(config, method), seed: 13, dtype: ScalarType.Float64);
        TinyAdaptedLlama.RandomizeB(bank, 14);
        bank.Context = AdapterForwardContext.Train(step: 3, microBatch: 1);
        using var ids = TinyAdaptedLlama.Ids(Sequence);

        using (var loss = TinyAdaptedLlama.Loss(model, ids, bank)) loss.backward();

        const double eps = 1e-6;
        int checkedElements = 0;
        foreach (var p in bank.Parameters)
        {
            using var grad = p.Value.grad!;
            var analytic = grad.data<double>().ToArray();
            Assert.True(analytic.Any(g => Math.Abs(g) > 1e-6), $"{method}: {p.Name} has an all-zero gradient");
            using var flat = p.Value.detach().view(-1);   // aliases the parameter's storage, written outside autograd
            var values = flat.data<double>();
            int n = (int)values.Count;
            foreach (var i in new[] { 0, n / 3, 2 * n / 3, n - 1 }.Distinct())
            {
                double saved = values[i];
                values[i] = saved + eps;
                double plus = LossValue(model, ids, bank);
                values[i] = saved - eps;
                double minus = LossValue(model, ids, bank);
                values[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                double error = Math.Abs(numeric - analytic[i]);
                Assert.True(error <= 1e-8 + 1e-6 * Math.Abs(analytic[i]),
                    $"{method}: d loss / d {p.Name}[{i}] autograd {analytic[i]:R} vs central difference {numeric:R}");
                checkedElements++;
            }
        }
        Assert.Equal(bank.Parameters.Count * 4, checkedElements);
    }

    private static double LossValue(LlamaModel model, Tensor ids, AdapterBank bank)
    {
        using var noGrad = no_grad();
        using var loss = TinyAdaptedLlama.Loss(model, ids, bank);
        return loss.item<double>();
    }

    [Fact]
    public void ShareASharedGradientThroughTheModelIsTheSumOfLoraPerLayerGradients()
    {
        var config = TinyAdaptedLlama.Config(layers: 3);
        using var model = LlamaModel.CreateRandom(config, seed: 8, new ModelLoadOptions(DType: ScalarType.Float64), initStd: 0.3);
        using var shared = AdapterBank.Create(TinyAdaptedLlama.Layout(config, "share-a"), seed: 21, dtype: ScalarType.Float64);
        // Same run seed: dropout masks are a function of it, so both banks drop the same inputs.
        using var lora = AdapterBank.Create(TinyAdaptedLlama.Layout(config, "lora"), seed: 21, dtype: ScalarType.Float64);
        TinyAdaptedLlama.RandomizeB(shared, 22);
        using (no_grad())
            for (int l = 0; l < config.NumHiddenLayers; l++)
                foreach (var m in TargetModules.All)
                {
                    lora.A(m, l).copy_(shared.A(m, l));
                    lora.B(m, l).copy_(shared.B(m, l));
                }
        shared.Context = lora.Context = AdapterForwardContext.Train(step: 7, microBatch: 2);
        using var ids = TinyAdaptedLlama.Ids(Sequence);
        using var lossShared = TinyAdaptedLlama.Loss(model, ids, shared);
        using var lossLora = TinyAdaptedLlama.Loss(model, ids, lora);
        Assert.Equal(lossLora.item<double>(), lossShared.item<double>(), 12);
        lossShared.backward();
        lossLora.backward();

        foreach (var m in TargetModules.All)
        {
            using var sharedGrad = shared.Find(AdapterParameter.SharedName(m, 'A'))!.Value.grad!;
            using var sum = zeros_like(sharedGrad);
            for (int l = 0; l < config.NumHiddenLayers; l++)
            {
                using var g = lora.A(m, l).grad!;
                sum.add_(g);
                using var ownB = shared.B(m, l).grad!;
                using var ownBLora = lora.B(m, l).grad!;
                Assert.True(allclose(ownB, ownBLora, rtol: 1e-10, atol: 1e-14), $"layer {l} {m} B gradient differs");
            }
            Assert.True(allclose(sharedGrad, sum, rtol: 1e-10, atol: 1e-14), $"shared {m} A gradient is not the per-layer sum");
            Assert.True(sum.abs().max().item<double>() > 1e-6, $"{m}: gradient is trivially zero");
        }
    }
}
