using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Llama;

/// <summary>
/// A deliberately naive Llama forward in double precision on plain arrays: explicit loops over positions, heads and
/// rows, no cache, no tensor library. Written from the HF definition, independently of the model code.
/// </summary>
public sealed class NaiveLlama
{
    private readonly LlamaConfig _c;
    private readonly Dictionary<string, double[]> _w = new();

    /// <param name="model">The model whose weights to copy.</param>
    /// <param name="extraDelta">Optional dense update per weight name added to that weight (an adapter's B·A·s).</param>
    public NaiveLlama(LlamaModel model, IReadOnlyDictionary<string, Tensor>? extraDelta = null)
    {
        _c = model.Config;
        foreach (var (name, t) in model.HfTensors())
        {
            using var f = t.detach().to(ScalarType.Float64).cpu().contiguous();
            var values = f.data<double>().ToArray();
            if (extraDelta != null && extraDelta.TryGetValue(name, out var d))
            {
                using var dd = d.detach().to(ScalarType.Float64).cpu().contiguous();
                var dv = dd.data<double>().ToArray();
                for (int i = 0; i < values.Length; i++) values[i] += dv[i];
            }
            _w[name] = values;
        }
        if (_c.TieWordEmbeddings) _w[HfKeys.LmHead] = _w[HfKeys.EmbedTokens];
    }

    /// <summary>Logits [s][vocab] for one sequence.</summary>
    public double[][] Logits(int[] ids)
    {
        int s = ids.Length, h = _c.HiddenSize;
        var x = new double[s][];
        for (int t = 0; t < s; t++) x[t] = _w[HfKeys.EmbedTokens].Skip(ids[t] * h).Take(h).ToArray();
        var invFreq = InvFreq(_c);
        for (int l = 0; l < _c.NumHiddenLayers; l++)
        {
            var attnOut = Attention(l, x.Select(r => RmsNorm(r, _w[HfKeys.InputNorm(l)])).ToArray(), invFreq);
            for (int t = 0; t < s; t++) for (int i = 0; i < h; i++) x[t][i] += attnOut[t][i];
            for (int t = 0; t < s; t++)
            {
                var xn = RmsNorm(x[t], _w[HfKeys.PostAttentionNorm(l)]);
                var gate = MatVec(_w[HfKeys.Weight(l, TargetModule.Gate)], xn, _c.IntermediateSize);
                var up = MatVec(_w[HfKeys.Weight(l, TargetModule.Up)], xn, _c.IntermediateSize);
                var act = new double[gate.Length];
                for (int i = 0; i < act.Length; i++) act[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
                var down = MatVec(_w[HfKeys.Weight(l, TargetModule.Down)], act, h);
                for (int i = 0; i < h; i++) x[t][i] += down[i];
            }
        }
        return x.Select(r => MatVec(_w[HfKeys.LmHead], RmsNorm(r, _w[HfKeys.FinalNorm]), _c.VocabSize)).ToArray();
    }

    private double[][] Attention(int l, double[][] xn, double[] invFreq)
    {
        int s = xn.Length, d = _c.HeadDim, heads = _c.NumAttentionHeads, kvHeads = _c.NumKeyValueHeads;
        var q = new double[s][]; var k = new double[s][]; var v = new double[s][];
        for (int t = 0; t < s; t++)
        {
            q[t] = MatVec(_w[HfKeys.Weight(l, TargetModule.Q)], xn[t], heads * d);
            k[t] = MatVec(_w[HfKeys.Weight(l, TargetModule.K)], xn[t], kvHeads * d);
            v[t] = MatVec(_w[HfKeys.Weight(l, TargetModule.V)], xn[t], kvHeads * d);
            for (int hd = 0; hd < heads; hd++) Rotate(q[t], hd * d, d, t, invFreq);
            for (int hd = 0; hd < kvHeads; hd++) Rotate(k[t], hd * d, d, t, invFreq);
        }
        var concat = new double[s][];
        for (int t = 0; t < s; t++)
        {
            concat[t] = new double[heads * d];
            for (int hd = 0; hd < heads; hd++)
            {
                int kvh = hd / (heads / kvHeads);
                var scores = new double[t + 1];
                for (int j = 0; j <= t; j++)
                {
                    double dot = 0;
                    for (int i = 0; i < d; i++) dot += q[t][hd * d + i] * k[j][kvh * d + i];
                    scores[j] = dot / Math.Sqrt(d);
                }
                double max = scores.Max(), sum = 0;
                for (int j = 0; j <= t; j++) { scores[j] = Math.Exp(scores[j] - max); sum += scores[j]; }
                for (int j = 0; j <= t; j++)
                    for (int i = 0; i < d; i++) concat[t][hd * d + i] += scores[j] / sum * v[j][kvh * d + i];
            }
        }
        return concat.Select(c => MatVec(_w[HfKeys.Weight(l, TargetModule.O)], c, _c.HiddenSize)).ToArray();
    }

    // rotate_half convention: element i pairs with i + d/2.
    private static void Rotate(double[] x, int offset, int d, int position, double[] invFreq)
    {
        for (int i = 0; i < d / 2; i++)
        {
            double angle = position * invFreq[i], cos = Math.Cos(angle), sin = Math.Sin(angle);
            double a = x[offset + i], b = x[offset + i + d / 2];
            x[offset + i] = a * cos - b * sin;
            x[offset + i + d / 2] = b * cos + a * sin;
        }
    }

    /// <summary>HF inverse frequencies, with linear or llama3 scaling (transformers' _compute_llama3_parameters).</summary>
    public static double[] InvFreq(LlamaConfig c)
    {
        int d = c.HeadDim;
        var inv = Enumerable.Range(0, d / 2).Select(i => 1.0 / Math.Pow(c.RopeTheta, 2.0 * i / d)).ToArray();
        var sc = c.RopeScaling;
        if (sc == null) return inv;
        if (sc.Type == "linear") return inv.Select(f => f / sc.Factor).ToArray();
        double oldCtx = sc.OriginalMaxPositionEmbeddings!.Value;
        double lowWavelen = oldCtx / sc.LowFreqFactor!.Value, highWavelen = oldCtx / sc.HighFreqFactor!.Value;
        return inv.Select(f =>
        {
            double wavelen = 2 * Math.PI / f;
            if (wavelen < highWavelen) return f;
            if (wavelen > lowWavelen) return f / sc.Factor;
            double smooth = (oldCtx / wavelen - sc.LowFreqFactor!.Value) / (sc.HighFreqFactor!.Value - sc.LowFreqFactor!.Value);
            return (1 - smooth) * f / sc.Factor + smooth * f;
        }).ToArray();
    }

    private double[] RmsNorm(double[] x, double[] w)
    {
        double ms = x.Select(a => a * a).Average();
        double r = 1 / Math.Sqrt(ms + _c.RmsNormEps);
        return x.Select((a, i) => a * r * w[i]).ToArray();
    }

    // W is [rows, cols] row-major.
    private static double[] MatVec(double[] w, double[] x, int rows)
    {
        int cols = x.Length;
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double acc = 0;
            for (int c = 0; c < cols; c++) acc += w[r * cols + c] * x[c];
            y[r] = acc;
        }
        return y;
    }
}
