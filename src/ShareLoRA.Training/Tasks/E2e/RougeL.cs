namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// ROUGE-L as coco-caption's Rouge scorer (used by e2e-metrics) computes it. Per segment: LCS of the hypothesis with
/// each reference over space-split tokens; P = max over refs of LCS/|hyp|, R = max over refs of LCS/|ref| (the two
/// maxima are taken separately, possibly from different references); score = (1+β²)PR / (R + β²P) with β = 1.2, or 0
/// when P or R is 0. The corpus score is the plain mean of the segment scores.
/// </summary>
public static class RougeL
{
    public const double Beta = 1.2;

    /// <summary>One segment, on already tokenised strings (tokens separated by single spaces).</summary>
    public static double Segment(string hypothesis, IReadOnlyList<string> references)
    {
        if (references.Count == 0) throw new ArgumentException("ROUGE-L needs at least one reference");
        // Python's str.split(" "): an empty string is one empty token, so an empty hypothesis has length 1.
        var h = hypothesis.Split(' ');
        double precision = 0, recall = 0;
        foreach (var reference in references)
        {
            var r = reference.Split(' ');
            int lcs = Lcs(r, h);
            precision = Math.Max(precision, (double)lcs / h.Length);
            recall = Math.Max(recall, (double)lcs / r.Length);
        }
        if (precision == 0 || recall == 0) return 0.0;
        return (1 + Beta * Beta) * precision * recall / (recall + Beta * Beta * precision);
    }

    /// <summary>Length of the longest common subsequence of two token sequences.</summary>
    public static int Lcs(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var previous = new int[b.Count + 1];
        var current = new int[b.Count + 1];
        for (int i = 1; i <= a.Count; i++)
        {
            for (int j = 1; j <= b.Count; j++)
                current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : Math.Max(previous[j], current[j - 1]);
            (previous, current) = (current, previous);
        }
        return previous[b.Count];
    }

    /// <summary>The corpus score (mean of segments) and every segment's score.</summary>
    public static (double Score, double[] Segments) Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        var segments = hypotheses.Select((h, i) => Segment(h, references[i])).ToArray();
        return (segments.Average(), segments);
    }
}
