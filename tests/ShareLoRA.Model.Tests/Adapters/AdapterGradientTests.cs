using ShareLoRA.Model.Adapters;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

public class AdapterGradientTests
{
    [Theory]
    [MemberData(nameof(AdapterBankTests.AllMethods), MemberType = typeof(AdapterBankTests))]
    public void EveryParameterGradientMatchesCentralDifferencesInFloat64(string method)
    {
        using var stack = new ToyDecoderStack(3, 7, ScalarType.Float64);
        using var bank = AdapterBank.Create(ToyDecoderStack.Layout(method), 31, dtype: ScalarType.Float64);
        ToyDecoderStack.Randomize(bank, 32);
        // Dropout on: masks are a function of the context, so the loss is a deterministic function of the parameters.
        bank.Context = AdapterForwardContext.Train(step: 4, microBatch: 1);
        using var x = stack.Input(33);

        using (var loss = stack.Loss(x, bank)) loss.backward();

        const double eps = 1e-6;
        int checkedElements = 0;
        foreach (var p in bank.Parameters)
        {
            using var grad = p.Value.grad!;
            var analytic = grad.data<double>().ToArray();
            // A flat alias of the parameter's storage, written directly (outside autograd) to perturb one element.
            using var flat = p.Value.detach().view(-1);
            var values = flat.data<double>();
            for (long i = 0; i < values.Count; i++)
            {
                double saved = values[i];
                values[i] = saved + eps;
                double plus = LossValue(stack, x, bank);
                values[i] = saved - eps;
                double minus = LossValue(stack, x, bank);
                values[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-6 * Math.Max(1.0, Math.Abs(analytic[i])),
                    $"{method}: d loss / d {p.Name}[{i}] autograd {analytic[i]:R} vs central difference {numeric:R}");
                checkedElements++;
            }
        }
        Assert.Equal(bank.Layout.TrainableParameterCount, checkedElements);
    }

    private static double LossValue(ToyDecoderStack stack, Tensor x, AdapterBank bank)
    {
        using var noGrad = no_grad();
        using var loss = stack.Loss(x, bank);
        return loss.item<double>();
    }

    [Theory]
    [InlineData('A')]
    [InlineData('B')]
    public void SharedGradientIsTheSumOfPerLayerGradientsOfAnEquivalentLoraBank(char matrix)
    {
        string method = matrix == 'A' ? "share-a" : "share-b";
        using var stack = new ToyDecoderStack(3, 7, ScalarType.Float64);
        using var shared = AdapterBank.Create(ToyDecoderStack.Layout(method), 41, dtype: ScalarType.Float64);
        using var lora = AdapterBank.Create(ToyDecoderStack.Layout("lora"), 41, dtype: ScalarType.Float64);
        ToyDecoderStack.Randomize(shared, 42);
        // The LoRA bank holds, for every layer, the very values the shared bank uses there.
        using (no_grad())
            for (int l = 0; l < 3; l++)
                foreach (var m in ToyDecoderStack.Targets)
                {
                    lora.A(m, l).copy_(shared.A(m, l));
                    lora.B(m, l).copy_(shared.B(m, l));
                }
        shared.Context = lora.Context = AdapterForwardContext.Train(step: 2, microBatch: 0);
        using var x = stack.Input(43);
        using var lossShared = stack.Loss(x, shared);
        using var lossLora = stack.Loss(x, lora);
        Assert.Equal(lossLora.item<double>(), lossShared.item<double>(), 12);
        lossShared.backward();
        lossLora.backward();

        foreach (var m in ToyDecoderStack.Targets)
        {
            using var sharedGrad = shared.Find(AdapterParameter.SharedName(m, matrix))!.Value.grad!;
            using var sum = zeros_like(sharedGrad);
            for (int l = 0; l < 3; l++)
            {
                using var g = (matrix == 'A' ? lora.A(m, l) : lora.B(m, l)).grad!;
                sum.add_(g);
                // The unshared matrix of each layer gets the same gradient in both banks.
                using var own = (matrix == 'A' ? shared.B(m, l) : shared.A(m, l)).grad!;
                using var ownLora = (matrix == 'A' ? lora.B(m, l) : lora.A(m, l)).grad!;
                Assert.True(allclose(own, ownLora, rtol: 1e-12, atol: 1e-14));
            }
            Assert.True(allclose(sharedGrad, sum, rtol: 1e-12, atol: 1e-14), $"shared {m} {matrix} gradient is not the per-layer sum");
            Assert.True(sum.abs().max().item<double>() > 1e-3); // non-trivial
        }
    }
}
