using System.Globalization;

namespace ShareLoRA.Training.Metrics;

/// <summary>
/// A task's metrics on the eval split at one evaluation, beside its eval loss: named values in the order they are
/// written to metrics.jsonl (a GLUE job's "dev_accuracy", "dev_f1", "dev_mcc", "dev_pearson", "dev_spearman", as
/// `sharelora glue` names them). Compares by content, values bitwise (NaN equals NaN), so a cluster run's metrics can
/// be checked against the single-process run's.
/// </summary>
public sealed record EvalMetrics(IReadOnlyList<(string Name, double Value)> Values)
{
    /// <summary>The prefix of every eval-metric field in metrics.jsonl (the metric is measured on the dev/eval split).</summary>
    public const string FieldPrefix = "dev_";

    /// <summary>The value of the field <paramref name="name"/> ("dev_accuracy"), or null when absent.</summary>
    public double? this[string name] => Values.Where(v => v.Name == name).Select(v => (double?)v.Value).FirstOrDefault();

    /// <summary>"accuracy 0.5000, f1 0.6667": the names without <see cref="FieldPrefix"/>, four decimals, for logs and progress lines.</summary>
    public string Describe() => string.Join(", ", Values.Select(v =>
        (v.Name.StartsWith(FieldPrefix, StringComparison.Ordinal) ? v.Name[FieldPrefix.Length..] : v.Name) + " "
        + v.Value.ToString("0.0000", CultureInfo.InvariantCulture)));

    public bool Equals(EvalMetrics? other) =>
        other is not null && Values.Count == other.Values.Count
        && Values.Zip(other.Values).All(p => p.First.Name == p.Second.Name && p.First.Value.Equals(p.Second.Value));

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (name, value) in Values)
        {
            hash.Add(name);
            hash.Add(value);
        }
        return hash.ToHashCode();
    }

    public override string ToString() => Describe();
}
