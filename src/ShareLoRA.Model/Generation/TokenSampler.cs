namespace ShareLoRA.Model.Generation;

/// <summary>Chooses the next token from one row of logits, on the CPU in double precision, deterministically for a seed.</summary>
public sealed class TokenSampler
{
    private readonly double _temperature;
    private readonly double? _topP;
    private readonly Random _random;

    public TokenSampler(double temperature, double? topP, long seed)
    {
        if (double.IsNaN(temperature) || temperature < 0) throw new ArgumentException($"temperature must be >= 0 (got {temperature})");
        if (topP is { } p && !(p > 0 && p <= 1)) throw new ArgumentException($"top-p must be in (0, 1] (got {p})");
        _temperature = temperature;
        _topP = topP;
        // Random(int) runs a fixed, documented algorithm for a given seed, so a seed replays the same draws.
        _random = new Random(unchecked((int)(seed ^ (seed >> 32))));
    }

    public int Next(ReadOnlySpan<float> logits) => _temperature == 0 ? ArgMax(logits) : Sample(logits);

    /// <summary>Index of the largest value; the first one wins ties.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    private int Sample(ReadOnlySpan<float> logits)
    {
        int n = logits.Length;
        double max = double.NegativeInfinity;
        for (int i = 0; i < n; i++) max = Math.Max(max, logits[i] / _temperature);
        var probs = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) { probs[i] = Math.Exp(logits[i] / _temperature - max); sum += probs[i]; }
        for (int i = 0; i < n; i++) probs[i] /= sum;

        // Candidates by descending probability (ties by id); top-p keeps the smallest prefix whose mass reaches p.
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => probs[b] != probs[a] ? probs[b].CompareTo(probs[a]) : a.CompareTo(b));
        int keep = n;
        if (_topP is { } p && p < 1)
        {
            double cumulative = 0;
            for (int i = 0; i < n; i++)
            {
                cumulative += probs[order[i]];
                if (cumulative >= p) { keep = i + 1; break; }
            }
        }
        double mass = 0;
        for (int i = 0; i < keep; i++) mass += probs[order[i]];
        double u = _random.NextDouble() * mass;
        for (int i = 0; i < keep; i++)
        {
            u -= probs[order[i]];
            if (u < 0) return order[i];
        }
        return order[keep - 1];
    }
}
