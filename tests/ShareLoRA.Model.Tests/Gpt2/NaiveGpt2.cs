using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;

namespace ShareLoRA.Model.Tests.Gpt2;

/// <summary>
/// A deliberately naive GPT-2 forward in double precision: explicit loops, Conv1D weights indexed as [in, out],
/// adapters added to the q/k/v thirds of c_attn's output. Written from the HF definition, not from the model code.
/// </summary>
public sealed class NaiveGpt2(Gpt2Model model, NaiveLora? lora = null)
{
    private readonly Gpt2Config _c = model.Config;
    private readonly Dictionary<string, double[]> _w = model.HfTensors().ToDictionary(t => t.Key, t => NaiveMath.Values(t.Value));

    private double[] W(string name) => _w[name];

    /// <summary>Logits [s * vocab] (row-major) for one sequence.</summary>
    public double[] Logits(int[] ids)
    {
        int s = ids.Length, h = _c.HiddenSize, heads = _c.NumHeads, d = h / heads;
        var x = new double[s][];
        for (int t = 0; t < s; t++)
        {
            x[t] = new double[h];
            for (int i = 0; i < h; i++) x[t][i] = W(Gpt2Keys.TokenEmbedding)[ids[t] * h + i] + W(Gpt2Keys.PositionEmbedding)[t * h + i];
        }
        for (int l = 0; l < _c.NumLayers; l++)
        {
            var q = new double[s][]; var k = new double[s][]; var v = new double[s][];
            var xn = new double[s][];
            for (int t = 0; t < s; t++)
            {
                xn[t] = NaiveMath.LayerNorm(x[t], W(Gpt2Keys.Weight(l, "ln_1")), W(Gpt2Keys.Bias(l, "ln_1")), _c.LayerNormEps);
                var qkv = NaiveMath.InputMajor(W(Gpt2Keys.Weight(l, "attn.c_attn")), W(Gpt2Keys.Bias(l, "attn.c_attn")), xn[t]);
                q[t] = qkv[..h]; k[t] = qkv[h..(2 * h)]; v[t] = qkv[(2 * h)..];
                lora?.AddTo(q[t], l, TargetModule.Q, xn[t]);
                lora?.AddTo(k[t], l, TargetModule.K, xn[t]);
                lora?.AddTo(v[t], l, TargetModule.V, xn[t]);
            }
            for (int t = 0; t < s; t++)
            {
                var heads_ = new double[h];
                for (int hd = 0; hd < heads; hd++) NaiveMath.AttendHead(q, k, v, t, hd, d, j => j <= t, heads_);
                var o = NaiveMath.InputMajor(W(Gpt2Keys.Weight(l, "attn.c_proj")), W(Gpt2Keys.Bias(l, "attn.c_proj")), heads_);
                lora?.AddTo(o, l, TargetModule.O, heads_);
                for (int i = 0; i < h; i++) x[t][i] += o[i];
            }
            for (int t = 0; t < s; t++)
            {
                var n = NaiveMath.LayerNorm(x[t], W(Gpt2Keys.Weight(l, "ln_2")), W(Gpt2Keys.Bias(l, "ln_2")), _c.LayerNormEps);
                var up = NaiveMath.InputMajor(W(Gpt2Keys.Weight(l, "mlp.c_fc")), W(Gpt2Keys.Bias(l, "mlp.c_fc")), n);
                lora?.AddTo(up, l, TargetModule.Up, n);
                var act = up.Select(NaiveMath.GeluTanh).ToArray();
                var down = NaiveMath.InputMajor(W(Gpt2Keys.Weight(l, "mlp.c_proj")), W(Gpt2Keys.Bias(l, "mlp.c_proj")), act);
                lora?.AddTo(down, l, TargetModule.Down, act);
                for (int i = 0; i < h; i++) x[t][i] += down[i];
            }
        }
        var logits = new List<double>();
        for (int t = 0; t < s; t++)
        {
            var n = NaiveMath.LayerNorm(x[t], W(Gpt2Keys.FinalNormWeight), W(Gpt2Keys.FinalNormBias), _c.LayerNormEps);
            logits.AddRange(NaiveMath.OutputMajor(W(Gpt2Keys.TokenEmbedding), null, n, _c.VocabSize));   // tied head
        }
        return logits.ToArray();
    }
}
