using ShareLoRA.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// Beam search as the LoRA repo's examples/NLG/src/gpt2_beam.py does it, for one query with the beams as batch rows:
/// <list type="bullet">
/// <item>step 0 expands beam 0 only; later steps take the top <c>beams</c> of (beam score + log softmax) over beams x vocab;</item>
/// <item>before the softmax, tokens that would repeat an n-gram of the generated tokens get -inf (fairseq's rule,
/// no_repeat_ngram_size; the query is not part of the history), stop tokens get -inf while length &lt; min_length;</item>
/// <item>a beam whose last token is a stop token becomes a finished candidate with score = sum of log probs / len^lp,
/// len counting the generated tokens including the stop token (not HF's ((5 + len) / 6)^lp, and not the query), and
/// its slot's score becomes -inf so live beams replace it;</item>
/// <item>after max_new_tokens steps every remaining beam is a candidate with len = max_new_tokens; the best candidate wins
/// (the first one on ties, as the repo's strict comparison).</item>
/// </list>
/// One addition that never changes the result: the loop stops early once no live beam can beat the best finished
/// candidate (for lp &gt;= 0 a live beam's best possible final score is its current sum / max_new_tokens^lp, since
/// sums only fall and the divisor only grows).
/// </summary>
public static class BeamSearch
{
    public static BeamResult Run(IBeamLanguageModel model, IReadOnlyList<int> query, BeamSearchOptions options)
    {
        options.Validate();
        var stops = new HashSet<int>(options.StopTokens ?? []);
        int beams = options.Beams;
        var scores = new double[beams];
        var history = Enumerable.Range(0, beams).Select(_ => new List<int>()).ToArray();
        double bestScore = double.NegativeInfinity;
        List<int>? bestTokens = null;
        bool bestStopped = false;

        int[]? lastSources = null, lastTokens = null;
        for (int i = 0; i < options.MaxNewTokens; i++)
        {
            var top = new List<(double Score, int Beam, int Token)>();
            using (var scope = NewDisposeScope())
            {
                var logits = i == 0 ? model.Start(query).unsqueeze(0) : model.Next(lastSources!, lastTokens!);
                logits = logits.to_type(ScalarType.Float32).cpu().clone();
                int rows = i == 0 ? 1 : beams;
                long vocab = logits.shape[1];
                for (int r = 0; r < rows; r++)
                {
                    var banned = new List<long>();
                    if (i < options.MinLength) banned.AddRange(stops.Select(s => (long)s));
                    if (i > 0) banned.AddRange(BannedNgramTokens(history[r], options.NoRepeatNgramSize).Select(t => (long)t));
                    if (banned.Count == 0) continue;
                    using var minusInfinity = float.NegativeInfinity.ToScalar();   // kept alive across the call: see KeptScalarOps
                    logits[r].index_fill_(0, tensor(banned.ToArray()), minusInfinity);
                }
                // The repo takes log(softmax(x)) in float32; log_softmax gives the same values without underflow to -inf.
                // Beam scores are accumulated in float64 here (the repo: float32).
                var lp = logits.narrow(0, 0, rows).log_softmax(-1).to_type(ScalarType.Float64);
                var next = i == 0 ? lp : lp.AddTensor(tensor(scores).view(beams, 1));
                var (values, indices) = next.view(-1).topk(Math.Min(beams, (int)(rows * vocab)), largest: true, sorted: true);
                var v = values.data<double>().ToArray();
                var ix = indices.data<long>().ToArray();
                for (int j = 0; j < v.Length; j++) top.Add((v[j], (int)(ix[j] / vocab), (int)(ix[j] % vocab)));
            }

            var newHistory = new List<int>[beams];
            lastSources = new int[beams];
            lastTokens = new int[beams];
            for (int j = 0; j < beams; j++)
            {
                var (score, beam, token) = j < top.Count ? top[j] : (double.NegativeInfinity, 0, 0);
                scores[j] = score;
                newHistory[j] = [.. history[beam], token];
                lastSources[j] = beam;
                lastTokens[j] = token;
            }
            history = newHistory;

            for (int j = 0; j < beams; j++)
            {
                if (!stops.Contains(history[j][^1])) continue;
                double normalized = scores[j] / Math.Pow(history[j].Count, options.LengthPenalty);
                if (bestTokens is null || bestScore < normalized)
                {
                    bestScore = normalized;
                    bestTokens = history[j];
                    bestStopped = true;
                }
                scores[j] = double.NegativeInfinity;
            }

            double liveBest = scores.Max();
            if (double.IsNegativeInfinity(liveBest)) return Result(bestTokens, bestScore, bestStopped, stops);
            if (bestTokens is not null && options.LengthPenalty >= 0
                && bestScore >= liveBest / Math.Pow(options.MaxNewTokens, options.LengthPenalty))
                return Result(bestTokens, bestScore, bestStopped, stops);
        }

        for (int j = 0; j < beams; j++)
        {
            double normalized = scores[j] / Math.Pow(history[j].Count, options.LengthPenalty);
            if (bestTokens is null || bestScore < normalized)
            {
                bestScore = normalized;
                bestTokens = history[j];
                bestStopped = false;
            }
        }
        return Result(bestTokens, bestScore, bestStopped, stops);
    }

    private static BeamResult Result(List<int>? tokens, double score, bool stopped, HashSet<int> stops)
    {
        var list = tokens ?? [];
        int end = list.FindIndex(stops.Contains);
        return new BeamResult(end >= 0 ? list.Take(end).ToList() : list, score, stopped);
    }

    /// <summary>
    /// Tokens that may not follow <paramref name="generated"/> because the last n - 1 tokens, extended by them, would
    /// repeat an n-gram already in <paramref name="generated"/> (fairseq / gpt2_beam.py _calc_banned_ngram_tokens).
    /// </summary>
    public static IReadOnlyList<int> BannedNgramTokens(IReadOnlyList<int> generated, int n)
    {
        int curLen = generated.Count;
        if (n <= 0 || curLen + 1 < n) return [];
        var banned = new List<int>();
        for (int s = 0; s + n <= curLen; s++)
        {
            bool match = true;
            for (int k = 0; k < n - 1 && match; k++) match = generated[s + k] == generated[curLen - (n - 1) + k];
            if (match) banned.Add(generated[s + n - 1]);
        }
        return banned;
    }
}
