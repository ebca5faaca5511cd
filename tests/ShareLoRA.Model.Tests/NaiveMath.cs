using ShareLoRA.Model.Adapters;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests;

/// <summary>Double-precision building blocks for the naive reference models: explicit loops over plain arrays.</summary>
public static class NaiveMath
{
    public static double[] Values(Tensor t)
    {
        using var f = t.detach().to(ScalarType.Float64).cpu().contiguous();
        return f.data<double>().ToArray();
    }

    /// <summary>y_j = sum_i x_i W[i, j] + b_j for W stored [in, out] (GPT-2 Conv1D).</summary>
    public static double[] InputMajor(double[] w, double[] b, double[] x)
    {
        int dIn = x.Length, dOut = b.Length;
        var y = new double[dOut];
        for (int j = 0; j < dOut; j++)
        {
            double acc = b[j];
            for (int i = 0; i < dIn; i++) acc += x[i] * w[i * dOut + j];
            y[j] = acc;
        }
        return y;
    }

    /// <summary>y_j = sum_i W[j, i] x_i (+ b_j) for W stored [out, in] (PyTorch Linear).</summary>
    public static double[] OutputMajor(double[] w, double[]? b, double[] x, int dOut)
    {
        int dIn = x.Length;
        var y = new double[dOut];
        for (int j = 0; j < dOut; j++)
        {
            double acc = b?[j] ?? 0;
            for (int i = 0; i < dIn; i++) acc += w[j * dIn + i] * x[i];
            y[j] = acc;
        }
        return y;
    }

    public static double[] LayerNorm(double[] x, double[] w, double[] b, double eps)
    {
        double mean = x.Average(), variance = 0;
        foreach (var v in x) variance += (v - mean) * (v - mean);
        variance /= x.Length;
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = (x[i] - mean) / Math.Sqrt(variance + eps) * w[i] + b[i];
        return y;
    }

    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));

    public static double GeluErf(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>erf to ~1e-14: Taylor series for |x| &lt; 2.5, else 1 - erfc by its continued fraction.</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x), result;
        if (ax < 2.5)
        {
            double term = ax, sum = ax;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17; n++)
            {
                term *= -ax * ax / n;
                sum += term / (2 * n + 1);
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            double k = ax;
            for (int n = 300; n >= 1; n--) k = ax + n / 2.0 / k;
            result = 1 - Math.Exp(-ax * ax) / (Math.Sqrt(Math.PI) * k);
        }
        return x < 0 ? -result : result;
    }

    /// <summary>Softmax-weighted sum over the allowed keys of one query head.</summary>
    public static void AttendHead(double[][] q, double[][] k, double[][] v, int t, int head, int d, Func<int, bool> allowed, double[] outRow)
    {
        var scores = new List<(int J, double S)>();
        for (int j = 0; j < k.Length; j++)
        {
            if (!allowed(j)) continue;
            double dot = 0;
            for (int i = 0; i < d; i++) dot += q[t][head * d + i] * k[j][head * d + i];
            scores.Add((j, dot / Math.Sqrt(d)));
        }
        double max = scores.Max(s => s.S), sum = scores.Sum(s => Math.Exp(s.S - max));
        foreach (var (j, s) in scores)
        {
            double p = Math.Exp(s - max) / sum;
            for (int i = 0; i < d; i++) outRow[head * d + i] += p * v[j][head * d + i];
        }
    }

    public static double MaxAbsDifference(double[] expected, Tensor actual)
    {
        var a = Values(actual);
        Xunit.Assert.Equal(expected.Length, a.Length);
        double worst = 0;
        for (int i = 0; i < a.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - a[i]));
        return worst;
    }
}

/// <summary>The adapters of a bank as plain arrays: delta(x) = s B (A x) per (layer, module), no dropout.</summary>
public sealed class NaiveLora
{
    private readonly Dictionary<(int, TargetModule), (double[] A, double[] B)> _m = new();
    private readonly double _scale;
    private readonly int _rank;

    public NaiveLora(AdapterBank bank)
    {
        _scale = bank.Layout.Scale;
        _rank = bank.Layout.Rank;
        for (int l = bank.FirstLayer; l < bank.EndLayer; l++)
            foreach (var m in bank.Layout.Targets)
                _m[(l, m)] = (NaiveMath.Values(bank.A(m, l)), NaiveMath.Values(bank.B(m, l)));
    }

    /// <summary>Adds s B A x to <paramref name="y"/> when (layer, module) is adapted.</summary>
    public void AddTo(double[] y, int layer, TargetModule module, double[] x)
    {
        if (!_m.TryGetValue((layer, module), out var ab)) return;
        var down = NaiveMath.OutputMajor(ab.A, null, x, _rank);
        var up = NaiveMath.OutputMajor(ab.B, null, down, y.Length);
        for (int j = 0; j < y.Length; j++) y[j] += _scale * up[j];
    }
}
