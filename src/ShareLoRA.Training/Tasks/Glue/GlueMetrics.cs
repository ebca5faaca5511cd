namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// GLUE's per-task metric selection: CoLA Matthews correlation; SST-2, RTE, QNLI accuracy; MRPC accuracy and F1 of
/// class 1 (paraphrase); STS-B Pearson and Spearman. The reported metric is the one the LoRA paper's GLUE table uses
/// (MRPC accuracy, STS-B Pearson), which the ShareLoRA paper follows; the GLUE leaderboard instead averages the pair.
/// </summary>
public static class GlueMetrics
{
    /// <summary>Scores class predictions of a classification task.</summary>
    public static GlueScore Classification(GlueTask task, IReadOnlyList<int> predictions, IReadOnlyList<int> labels)
    {
        if (task == GlueTask.Stsb) throw new ArgumentException("STS-B is a regression task: score it with Regression()");
        var metrics = new Dictionary<string, double>();
        switch (task)
        {
            case GlueTask.Cola:
                metrics["mcc"] = ClassificationMetrics.MatthewsCorrelation(predictions, labels);
                return new GlueScore(task, metrics, "mcc");
            case GlueTask.Mrpc:
                metrics["accuracy"] = ClassificationMetrics.Accuracy(predictions, labels);
                metrics["f1"] = ClassificationMetrics.F1(predictions, labels, positive: 1);
                return new GlueScore(task, metrics, "accuracy");
            default:
                metrics["accuracy"] = ClassificationMetrics.Accuracy(predictions, labels);
                return new GlueScore(task, metrics, "accuracy");
        }
    }

    /// <summary>Scores STS-B similarity predictions against the gold scores.</summary>
    public static GlueScore Regression(IReadOnlyList<double> predictions, IReadOnlyList<double> scores)
    {
        var metrics = new Dictionary<string, double>
        {
            ["pearson"] = CorrelationMetrics.Pearson(predictions, scores),
            ["spearman"] = CorrelationMetrics.Spearman(predictions, scores),
        };
        return new GlueScore(GlueTask.Stsb, metrics, "pearson");
    }
}
