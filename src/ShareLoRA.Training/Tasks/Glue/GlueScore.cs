namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// The metrics of one GLUE task on one split: every metric GLUE reports for it by name ("accuracy", "f1", "mcc",
/// "pearson", "spearman") and <see cref="Reported"/>, the one the LoRA/ShareLoRA papers put in their tables.
/// </summary>
public sealed record GlueScore(GlueTask Task, IReadOnlyDictionary<string, double> Metrics, string Reported)
{
    public double ReportedValue => Metrics[Reported];
}
