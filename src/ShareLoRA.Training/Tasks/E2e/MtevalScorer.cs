namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// BLEU and NIST exactly as mteval-v13a.pl computes them over one document (how e2e-metrics calls it), on
/// <see cref="MtevalTokenizer"/> tokens:
/// <list type="bullet">
/// <item>Per segment, each n-gram's count is clipped by its largest count in any one reference; matches and hypothesis
/// n-gram counts are summed over the corpus.</item>
/// <item>BLEU = BP · exp(mean over n=1..4 of log p_n), p_n = matches_n / hyp_n; the effective reference length sums,
/// per segment, the reference length closest to the hypothesis length (a tie takes the shorter; empty references are
/// skipped); BP = exp(min(0, 1 − r/c)). mteval's smoothing applies to a zero match count: the k-th such n uses
/// 1/(2^k · hyp_n) (it never fires on real corpora).</item>
/// <item>NIST: info(w1..wn) = log2(count(w1..wn−1) / count(w1..wn)) with counts over every reference segment of the
/// corpus (for unigrams the numerator is the total reference word count). NIST = Σ_{n=1..5} (Σ clipped info_n /
/// hyp_n) · exp(β · log²(min(1, c / L̄))), L̄ = total reference words / mean number of non-empty references per
/// segment, β = −ln 0.5 / ln² 1.5 (penalty 0.5 at a length ratio of 2/3).</item>
/// </list>
/// </summary>
public static class MtevalScorer
{
    private const int MaxN = 9; // mteval counts up to 9-grams; BLEU uses 4, NIST 5

    public static MtevalScores Score(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"{hypotheses.Count} hypotheses but {references.Count} reference groups");
        if (hypotheses.Count == 0) throw new ArgumentException("no segments to score");
        var hyp = hypotheses.Select(MtevalTokenizer.Tokenize).ToList();
        var refs = references.Select(g => g.Select(MtevalTokenizer.Tokenize).ToList()).ToList();
        var info = NgramInformation(refs);

        var match = new int[MaxN + 1];
        var hypCount = new int[MaxN + 1];
        var refCount = new int[MaxN + 1];
        var matchInfo = new double[MaxN + 1];
        int refLength = 0, nonEmptyRefs = 0;
        for (int s = 0; s < hyp.Count; s++)
        {
            var h = hyp[s];
            for (int n = 1; n <= MaxN; n++) hypCount[n] += Math.Max(0, h.Length - n + 1);
            var maxRef = new Dictionary<string, int>();
            int? closest = null;
            foreach (var r in refs[s])
            {
                if (r.Length > 0) nonEmptyRefs++;
                foreach (var (g, c) in Ngrams(r))
                    maxRef[g] = Math.Max(maxRef.GetValueOrDefault(g), c);
                for (int n = 1; n <= MaxN; n++) refCount[n] += Math.Max(0, r.Length - n + 1);
                closest = closest is int current ? Closest(current, r.Length, h.Length) : r.Length;
            }
            refLength += closest ?? 0;
            foreach (var (g, c) in Ngrams(h))
            {
                if (!maxRef.TryGetValue(g, out var rc)) continue;
                int n = Order(g);
                int clipped = Math.Min(c, rc);
                match[n] += clipped;
                matchInfo[n] += info[g] * clipped;
            }
        }

        double bleu = Bleu(refLength, match, hypCount);
        double nist = Nist((double)nonEmptyRefs / hyp.Count, matchInfo, hypCount, refCount);
        return new MtevalScores(bleu, nist, refLength, match, hypCount, matchInfo);
    }

    /// <summary>mteval's brevity_penalty_closest: keep the reference length nearer the hypothesis; on a tie the shorter.</summary>
    internal static int Closest(int current, int candidateRef, int hypLength)
    {
        if (candidateRef == 0) return current; // empty (padding) references never count
        int d = Math.Abs(hypLength - candidateRef), dc = Math.Abs(hypLength - current);
        if (d < dc) return candidateRef;
        if (d == dc && current > candidateRef) return candidateRef;
        return current;
    }

    private static double Bleu(int refLength, int[] match, int[] hypCount)
    {
        double bp = hypCount[1] > 0 ? Math.Exp(Math.Min(0.0, 1.0 - (double)refLength / hypCount[1])) : 0.0;
        double logSum = 0;
        double smooth = 1;
        for (int n = 1; n <= 4; n++)
        {
            if (hypCount[n] == 0) continue; // mteval adds log 1 = 0 here
            if (match[n] == 0)
            {
                smooth *= 2;
                logSum += Math.Log(1.0 / (smooth * hypCount[n]));
            }
            else logSum += Math.Log((double)match[n] / hypCount[n]);
        }
        return Math.Exp(logSum / 4) * bp;
    }

    private static double Nist(double refsPerSegment, double[] matchInfo, int[] hypCount, int[] refCount)
    {
        double score = 0;
        for (int n = 1; n <= 5; n++) score += matchInfo[n] / Math.Max(hypCount[n], 1);
        return score * NistLengthPenalty(hypCount[1] / (refCount[1] / refsPerSegment));
    }

    /// <summary>mteval's NIST brevity factor for a hypothesis/reference length ratio (0.5 at a ratio of 2/3, 1 from 1 up).</summary>
    public static double NistLengthPenalty(double ratio)
    {
        if (ratio >= 1) return 1;
        if (ratio <= 0) return 0;
        double beta = -Math.Log(0.5) / Math.Log(1.5) / Math.Log(1.5);
        return Math.Exp(-beta * Math.Log(ratio) * Math.Log(ratio));
    }

    /// <summary>Information weight of every reference n-gram (n ≤ 9), counted over all reference segments.</summary>
    internal static Dictionary<string, double> NgramInformation(IEnumerable<IEnumerable<string[]>> references)
    {
        var count = new Dictionary<string, int>();
        long totalWords = 0;
        foreach (var group in references)
            foreach (var r in group)
            {
                totalWords += r.Length;
                foreach (var (g, c) in Ngrams(r)) count[g] = count.GetValueOrDefault(g) + c;
            }
        var info = new Dictionary<string, double>(count.Count);
        foreach (var (g, c) in count)
        {
            int space = g.LastIndexOf(' ');
            double context = space < 0 ? totalWords : count[g[..space]];
            info[g] = -Math.Log(c / context) / Math.Log(2);
        }
        return info;
    }

    /// <summary>Counts of all 1..9-grams, keyed by the words joined with single spaces (tokens hold no spaces).</summary>
    internal static Dictionary<string, int> Ngrams(string[] words)
    {
        var counts = new Dictionary<string, int>();
        for (int i = 0; i < words.Length; i++)
        {
            var key = words[i];
            counts[key] = counts.GetValueOrDefault(key) + 1;
            for (int j = i + 1; j < words.Length && j - i < MaxN; j++)
            {
                key = key + " " + words[j];
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }
        return counts;
    }

    private static int Order(string ngram)
    {
        int n = 1;
        foreach (var c in ngram) if (c == ' ') n++;
        return n;
    }
}
