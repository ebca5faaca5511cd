using ShareLoRA.Training.Metrics;

namespace ShareLoRA.Training.Trainer;

/// <summary>
/// One evaluation of the eval split: the token-weighted mean loss (one term per row for GLUE), and for a job with a
/// task its metrics and the last stage's per-row predictions in eval order (class ids as whole numbers, or STS-B
/// scores); <see cref="Describe"/> is the log/progress text ("eval loss 0.6931, accuracy 0.5000").
/// </summary>
public sealed record EvalResult(double Loss, EvalMetrics? Metrics, IReadOnlyList<float>? RowPredictions = null)
{
    public string Describe() => FormattableString.Invariant($"eval loss {Loss:0.0000}") + (Metrics is { } m ? ", " + m.Describe() : "");
}
