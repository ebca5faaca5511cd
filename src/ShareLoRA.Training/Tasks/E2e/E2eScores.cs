namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// The E2E challenge metrics of one system output. METEOR is always null: it needs METEOR 1.5's WordNet and
/// paraphrase tables, which are not reimplemented (approximating it would give numbers that look comparable but are not).
/// </summary>
public sealed record E2eScores(int Segments, double Bleu, double Nist, double? Meteor, double RougeL, double Cider)
{
    public const string MeteorNote = "METEOR not computed: it needs METEOR 1.5 with its WordNet and paraphrase tables (run the official e2e-metrics for it)";
}
