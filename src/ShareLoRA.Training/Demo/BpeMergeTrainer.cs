namespace ShareLoRA.Training.Demo;

/// <summary>
/// A tiny deterministic BPE trainer: starting from single characters, repeatedly merges the most frequent adjacent
/// pair (ties broken by ordinal order of the pair) across the corpus. Each text is one word (the demo tokenizer has
/// no pre-tokenizer), so merges may span spaces, which is what compresses the fixed Alpaca prompt template.
/// </summary>
public static class BpeMergeTrainer
{
    /// <summary>
    /// Learns up to <paramref name="maxMerges"/> merges over <paramref name="texts"/>; a pair is merged only while it
    /// occurs at least twice. Characters outside <paramref name="alphabet"/> split the text (they become byte tokens).
    /// </summary>
    public static IReadOnlyList<(string Left, string Right)> Train(IEnumerable<string> texts, ISet<char> alphabet, int maxMerges)
    {
        var words = new List<List<string>>();
        foreach (var text in texts)
        {
            var current = new List<string>();
            foreach (var c in text)
            {
                if (alphabet.Contains(c)) { current.Add(c.ToString()); continue; }
                if (current.Count > 1) words.Add(current);
                current = [];
            }
            if (current.Count > 1) words.Add(current);
        }

        var merges = new List<(string, string)>();
        while (merges.Count < maxMerges)
        {
            var counts = new Dictionary<(string, string), int>();
            foreach (var word in words)
                for (var i = 0; i + 1 < word.Count; i++)
                {
                    var pair = (word[i], word[i + 1]);
                    counts[pair] = counts.GetValueOrDefault(pair) + 1;
                }
            (string Left, string Right) best = default;
            var bestCount = 1;
            foreach (var (pair, count) in counts)
                if (count > bestCount || (count == bestCount && bestCount > 1 && ComparePairs(pair, best) < 0))
                {
                    best = pair;
                    bestCount = count;
                }
            if (bestCount < 2) break;
            merges.Add(best);
            foreach (var word in words) Apply(word, best);
        }
        return merges;
    }

    private static int ComparePairs((string Left, string Right) a, (string Left, string Right) b)
    {
        var c = string.CompareOrdinal(a.Left, b.Left);
        return c != 0 ? c : string.CompareOrdinal(a.Right, b.Right);
    }

    // Left to right, non-overlapping, as the BPE encoder applies one merge.
    private static void Apply(List<string> word, (string Left, string Right) pair)
    {
        for (var i = 0; i + 1 < word.Count; i++)
            if (word[i] == pair.Left && word[i + 1] == pair.Right)
            {
                word[i] = pair.Left + pair.Right;
                word.RemoveAt(i + 1);
            }
    }
}
