namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// CIDEr exactly as coco-caption's Cider scorer (cider_scorer.py, used by e2e-metrics) computes it — the CIDEr-D
/// variant with clipping and a length penalty, though the scorer calls it "CIDEr". On whitespace-split tokens, n=1..4:
/// <list type="bullet">
/// <item>df(g) = number of segments whose references (any of them) contain n-gram g; N = number of segments.</item>
/// <item>For a sentence, vec_n[g] = tf(g) · (ln N − ln max(1, df(g))), ‖vec_n‖ its Euclidean norm.</item>
/// <item>sim_n(h, r) = Σ_g min(vec_n^h[g], vec_n^r[g]) · vec_n^r[g] / (‖vec_n^h‖ ‖vec_n^r‖) (no division when a norm is
/// 0), times exp(−δ²/(2σ²)), σ = 6, where δ is the difference of the two sentences' "lengths" — which the scorer
/// counts as their number of bigrams (a quirk kept here: words − 1 for a non-empty sentence).</item>
/// <item>segment = 10 · mean_n(Σ_refs sim_n) / #refs; corpus = mean of segments.</item>
/// </list>
/// </summary>
public static class Cider
{
    public const int MaxN = 4;
    public const double Sigma = 6.0;

    /// <summary>The corpus score and every segment's score, on already tokenised strings.</summary>
    public static (double Score, double[] Segments) Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"{hypotheses.Count} hypotheses but {references.Count} reference groups");
        if (hypotheses.Count == 0) throw new ArgumentException("no segments to score");
        var hypCounts = hypotheses.Select(Count).ToList();
        var refCounts = references.Select(g => g.Select(Count).ToList()).ToList();

        var df = new Dictionary<string, double>();
        foreach (var group in refCounts)
            foreach (var g in group.SelectMany(r => r.Keys).Distinct())
                df[g] = df.GetValueOrDefault(g) + 1;
        double logN = Math.Log(hypotheses.Count);

        var scores = new double[hypotheses.Count];
        for (int s = 0; s < hypotheses.Count; s++)
        {
            var (hv, hn, hl) = Vector(hypCounts[s], df, logN);
            var sum = new double[MaxN];
            foreach (var r in refCounts[s])
            {
                var (rv, rn, rl) = Vector(r, df, logN);
                double delta = hl - rl;
                for (int n = 0; n < MaxN; n++)
                {
                    double val = 0;
                    foreach (var (g, w) in hv[n])
                    {
                        double rw = rv[n].GetValueOrDefault(g);
                        val += Math.Min(w, rw) * rw;
                    }
                    if (hn[n] != 0 && rn[n] != 0) val /= hn[n] * rn[n];
                    val *= Math.Exp(-(delta * delta) / (2 * Sigma * Sigma));
                    sum[n] += val;
                }
            }
            scores[s] = sum.Average() / refCounts[s].Count * 10.0;
        }
        return (scores.Average(), scores);
    }

    private static (Dictionary<string, double>[] Vec, double[] Norm, int Length) Vector(
        Dictionary<string, int> counts, Dictionary<string, double> df, double logN)
    {
        var vec = Enumerable.Range(0, MaxN).Select(_ => new Dictionary<string, double>()).ToArray();
        var norm = new double[MaxN];
        int length = 0;
        foreach (var (g, tf) in counts)
        {
            int n = g.Count(c => c == ' ');
            double w = tf * (logN - Math.Log(Math.Max(1.0, df.GetValueOrDefault(g))));
            vec[n][g] = w;
            norm[n] += w * w;
            if (n == 1) length += tf; // coco-caption counts bigrams here (index 1), not words
        }
        for (int n = 0; n < MaxN; n++) norm[n] = Math.Sqrt(norm[n]);
        return (vec, norm, length);
    }

    /// <summary>1..4-gram counts of a whitespace-split sentence, keyed by words joined with single spaces.</summary>
    internal static Dictionary<string, int> Count(string sentence)
    {
        var words = sentence.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var counts = new Dictionary<string, int>();
        for (int k = 1; k <= MaxN; k++)
            for (int i = 0; i + k <= words.Length; i++)
            {
                var g = string.Join(' ', words, i, k);
                counts[g] = counts.GetValueOrDefault(g) + 1;
            }
        return counts;
    }
}
