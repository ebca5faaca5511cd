using ShareLoRA.Model.Adapters;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests;

/// <summary>Adapter banks for the GPT-2 and RoBERTa tests: the four methods on q and v with non-zero B's.</summary>
public static class FamilyAdapters
{
    public static IEnumerable<object[]> Methods => [["lora"], ["share-a"], ["share-b"], ["share-ab"]];

    public static AdapterBank Bank(string method, int layers, IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> dims,
        ScalarType dtype, long seed, IReadOnlyList<TargetModule>? targets = null)
    {
        var layout = AdapterLayout.ForMethod(method, layers, dims, targets ?? [TargetModule.Q, TargetModule.V], rank: 2, alpha: 4, dropout: 0);
        var bank = AdapterBank.Create(layout, seed, dtype: dtype);
        // B starts at zero, which would hide every error in how the delta is applied: randomize all of them.
        using var g = new Generator((ulong)seed + 1, CPU);
        using var noGrad = no_grad();
        foreach (var p in bank.Parameters)
        {
            using var r = randn(p.Value.shape, ScalarType.Float64, CPU, false, g);
            p.Value.copy_(r.mul_(0.3));
        }
        return bank;
    }

    /// <summary>Checks every element of every bank parameter against central differences of <paramref name="loss"/> (float64).</summary>
    public static int CheckGradients(AdapterBank bank, Func<Tensor> loss, string what)
    {
        foreach (var p in bank.Parameters) p.Value.grad?.zero_();
        using (var l = loss()) l.backward();
        const double eps = 1e-6;
        int checkedElements = 0;
        foreach (var p in bank.Parameters)
        {
            using var grad = p.Value.grad!;
            var analytic = grad.data<double>().ToArray();
            using var flat = p.Value.detach().view(-1);
            var values = flat.data<double>();
            for (long i = 0; i < values.Count; i++)
            {
                double saved = values[i];
                values[i] = saved + eps;
                double plus = Value(loss);
                values[i] = saved - eps;
                double minus = Value(loss);
                values[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                Xunit.Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-6 * Math.Max(1.0, Math.Abs(analytic[i])),
                    $"{what}: d loss / d {p.Name}[{i}] autograd {analytic[i]:R} vs central difference {numeric:R}");
                checkedElements++;
            }
        }
        return checkedElements;
    }

    private static double Value(Func<Tensor> loss)
    {
        using var noGrad = no_grad();
        using var l = loss();
        return l.item<double>();
    }
}
