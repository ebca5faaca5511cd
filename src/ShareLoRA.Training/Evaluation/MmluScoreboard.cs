namespace ShareLoRA.Training.Evaluation;

/// <summary>Tallies predictions per subject and aggregates them into an <see cref="MmluReport"/>.</summary>
public sealed class MmluScoreboard
{
    private readonly SortedDictionary<string, (int Correct, int N)> _subjects = new(StringComparer.Ordinal);

    public void Add(string subject, int predicted, int gold)
    {
        _subjects.TryGetValue(subject, out var s);
        _subjects[subject] = (s.Correct + (predicted == gold ? 1 : 0), s.N + 1);
    }

    public SubjectScore Subject(string subject) =>
        _subjects.TryGetValue(subject, out var s) ? new SubjectScore(s.Correct, s.N) : new SubjectScore(0, 0);

    /// <summary>Subjects with no question (e.g. an empty test file) are not part of either mean.</summary>
    public MmluReport Report()
    {
        var scores = _subjects.Where(kv => kv.Value.N > 0).ToDictionary(kv => kv.Key, kv => new SubjectScore(kv.Value.Correct, kv.Value.N), StringComparer.Ordinal);
        int n = scores.Values.Sum(s => s.N);
        double macro = scores.Count == 0 ? 0 : scores.Values.Average(s => s.Accuracy);
        double micro = n == 0 ? 0 : (double)scores.Values.Sum(s => s.Correct) / n;
        return new MmluReport(new SortedDictionary<string, SubjectScore>(scores, StringComparer.Ordinal), macro, micro, n);
    }
}
