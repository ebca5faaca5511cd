using System.Globalization;
using ShareLoRA.Training.Metrics;

namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// The dev metrics of a GLUE job (`sharelora train` and the cluster) from the last stage's per-row predictions and the
/// rows' labels: the one place both the single-process trainer and the coordinator turn predictions into
/// <see cref="EvalMetrics"/>, scored by <see cref="GlueMetrics"/> as `sharelora glue` scores them and named as it writes
/// them ("dev_" + "accuracy", "f1", "mcc", "pearson", "spearman").
/// </summary>
public static class GlueDevMetrics
{
    /// <summary>
    /// Scores predictions against labels, both as the pipeline carries them (one float per row): class ids as whole
    /// numbers for classification, scores for STS-B. A float score label is widened through its shortest decimal form
    /// (3.8f -> 3.8, not 3.799999952...), so it equals the double `sharelora glue` parses from the same TSV; predicted
    /// scores are widened exactly, as `sharelora glue` widens the fp32 logits.
    /// </summary>
    /// <exception cref="ArgumentException">Predictions and labels differ in count, or there are none.</exception>
    public static GlueScore Score(GlueTaskSpec spec, IReadOnlyList<float> predictions, IReadOnlyList<float> labels)
    {
        ClassificationMetrics.CheckLengths(predictions.Count, labels.Count);
        if (spec.IsRegression)
            return GlueMetrics.Regression(predictions.Select(p => (double)p).ToList(), labels.Select(Decimal).ToList());
        return GlueMetrics.Classification(spec.Task, predictions.Select(ClassId).ToList(), labels.Select(ClassId).ToList());
    }

    /// <summary>The score as metrics.jsonl fields ("dev_accuracy", ...) in <see cref="GlueMetrics"/>' order.</summary>
    public static EvalMetrics Fields(GlueScore score) =>
        new(score.Metrics.Select(kv => (EvalMetrics.FieldPrefix + kv.Key, kv.Value)).ToList());

    /// <summary>
    /// A task's eval metrics for one evaluation: null when the job has no GLUE task or the last stage returned no
    /// predictions (a token-level loss), else <see cref="Score"/> as <see cref="Fields"/>.
    /// </summary>
    public static EvalMetrics? Of(GlueTaskSpec? spec, IReadOnlyList<float>? predictions, IReadOnlyList<float> labels) =>
        spec is null || predictions is null ? null : Fields(Score(spec, predictions, labels));

    private static int ClassId(float value) => (int)value;

    private static double Decimal(float value) => double.Parse(value.ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
