using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Roberta;
using K = ShareLoRA.Model.Roberta.RobertaKeys;

namespace ShareLoRA.Model.Tests.Roberta;

/// <summary>
/// A deliberately naive RobertaForSequenceClassification forward in double precision for one sequence: explicit
/// loops, positions counted by hand, padded keys skipped, erf GELU. Written from the HF definition.
/// </summary>
public sealed class NaiveRoberta(RobertaModel model, NaiveLora? lora = null)
{
    private readonly RobertaConfig _c = model.Config;
    private readonly Dictionary<string, double[]> _w = model.HfTensors().ToDictionary(t => t.Key, t => NaiveMath.Values(t.Value));

    private double[] W(string name) => _w[name];

    /// <summary>Position ids as HF create_position_ids_from_input_ids computes them, by a plain count.</summary>
    public static long[] Positions(int[] ids, int pad)
    {
        var p = new long[ids.Length];
        int count = 0;
        for (int t = 0; t < ids.Length; t++)
        {
            if (ids[t] == pad) { p[t] = pad; continue; }
            count++;
            p[t] = pad + count;
        }
        return p;
    }

    /// <summary>Classifier output [num_labels] for one sequence; <paramref name="mask"/> 0 marks keys never attended.</summary>
    public double[] Logits(int[] ids, int[]? mask = null, int[]? types = null)
    {
        int s = ids.Length, h = _c.HiddenSize, heads = _c.NumHeads, d = h / heads;
        var pos = Positions(ids, _c.PadTokenId);
        var x = new double[s][];
        for (int t = 0; t < s; t++)
        {
            var e = new double[h];
            int type = types?[t] ?? 0;
            for (int i = 0; i < h; i++)
                e[i] = W(K.WordEmbeddings)[ids[t] * h + i] + W(K.PositionEmbeddings)[pos[t] * h + i] + W(K.TokenTypeEmbeddings)[type * h + i];
            x[t] = NaiveMath.LayerNorm(e, W(K.Weight(K.EmbeddingNorm)), W(K.Bias(K.EmbeddingNorm)), _c.LayerNormEps);
        }
        for (int l = 0; l < _c.NumLayers; l++)
        {
            double[] Lin(string module, double[] input, TargetModule? m, int dOut)
            {
                var y = NaiveMath.OutputMajor(W(K.Weight(l, module)), W(K.Bias(l, module)), input, dOut);
                if (m is { } tm) lora?.AddTo(y, l, tm, input);
                return y;
            }
            var q = x.Select(r => Lin(K.Query, r, TargetModule.Q, h)).ToArray();
            var k = x.Select(r => Lin(K.Key, r, TargetModule.K, h)).ToArray();
            var v = x.Select(r => Lin(K.Value, r, TargetModule.V, h)).ToArray();
            var next = new double[s][];
            for (int t = 0; t < s; t++)
            {
                var ctx = new double[h];
                for (int hd = 0; hd < heads; hd++) NaiveMath.AttendHead(q, k, v, t, hd, d, j => mask == null || mask[j] != 0, ctx);
                var o = Lin(K.AttentionOutput, ctx, TargetModule.O, h);
                var a = NaiveMath.LayerNorm(x[t].Zip(o, (p, r) => p + r).ToArray(), W(K.Weight(l, K.AttentionNorm)), W(K.Bias(l, K.AttentionNorm)), _c.LayerNormEps);
                var f = Lin(K.Intermediate, a, TargetModule.Up, _c.IntermediateSize).Select(NaiveMath.GeluErf).ToArray();
                var down = Lin(K.Output, f, TargetModule.Down, h);
                next[t] = NaiveMath.LayerNorm(a.Zip(down, (p, r) => p + r).ToArray(), W(K.Weight(l, K.OutputNorm)), W(K.Bias(l, K.OutputNorm)), _c.LayerNormEps);
            }
            x = next;
        }
        var dense = NaiveMath.OutputMajor(W(K.Weight(K.ClassifierDense)), W(K.Bias(K.ClassifierDense)), x[0], h).Select(Math.Tanh).ToArray();
        return NaiveMath.OutputMajor(W(K.Weight(K.ClassifierOut)), W(K.Bias(K.ClassifierOut)), dense, _c.NumLabels);
    }
}
