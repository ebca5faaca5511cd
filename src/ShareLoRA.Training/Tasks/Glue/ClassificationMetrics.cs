namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// Accuracy, F1 and the Matthews correlation coefficient over class ids, defined as scikit-learn defines them
/// (which is what GLUE's reference scorer and the Hugging Face examples call).
/// </summary>
public static class ClassificationMetrics
{
    public static double Accuracy(IReadOnlyList<int> predictions, IReadOnlyList<int> labels)
    {
        CheckLengths(predictions.Count, labels.Count);
        int correct = 0;
        for (int i = 0; i < labels.Count; i++)
            if (predictions[i] == labels[i]) correct++;
        return (double)correct / labels.Count;
    }

    /// <summary>
    /// F1 of the positive class: 2TP / (2TP + FP + FN). With no positive prediction and no positive label it is 0,
    /// as sklearn's f1_score returns (zero_division default).
    /// </summary>
    public static double F1(IReadOnlyList<int> predictions, IReadOnlyList<int> labels, int positive = 1)
    {
        CheckLengths(predictions.Count, labels.Count);
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < labels.Count; i++)
        {
            bool p = predictions[i] == positive, g = labels[i] == positive;
            if (p && g) tp++;
            else if (p) fp++;
            else if (g) fn++;
        }
        int denominator = 2 * tp + fp + fn;
        return denominator == 0 ? 0.0 : 2.0 * tp / denominator;
    }

    /// <summary>
    /// Matthews correlation (multiclass form of sklearn's matthews_corrcoef, which equals the binary
    /// (TP·TN − FP·FN)/√(...) for two classes): with C the confusion matrix, t_k = true counts, p_k = predicted counts,
    /// c = correct, s = samples, MCC = (c·s − Σ t_k p_k) / √((s² − Σ p_k²)(s² − Σ t_k²)). When either factor under the
    /// root is 0 — a class never predicted, or only one class present — it is 0, as sklearn returns.
    /// </summary>
    public static double MatthewsCorrelation(IReadOnlyList<int> predictions, IReadOnlyList<int> labels)
    {
        CheckLengths(predictions.Count, labels.Count);
        var trueCount = new Dictionary<int, long>();
        var predCount = new Dictionary<int, long>();
        long correct = 0, samples = labels.Count;
        for (int i = 0; i < labels.Count; i++)
        {
            trueCount[labels[i]] = trueCount.GetValueOrDefault(labels[i]) + 1;
            predCount[predictions[i]] = predCount.GetValueOrDefault(predictions[i]) + 1;
            if (predictions[i] == labels[i]) correct++;
        }
        // Doubles from here: s² reaches 10^10 on large sets and products of sums overflow long soon after.
        double tp = 0;
        foreach (var (k, t) in trueCount) tp += (double)t * predCount.GetValueOrDefault(k);
        double sumP2 = predCount.Values.Sum(p => (double)p * p);
        double sumT2 = trueCount.Values.Sum(t => (double)t * t);
        double s = samples;
        double covYtYp = correct * s - tp;
        double covYpYp = s * s - sumP2;
        double covYtYt = s * s - sumT2;
        if (covYpYp * covYtYt == 0) return 0.0;
        return covYtYp / Math.Sqrt(covYtYt * covYpYp);
    }

    internal static void CheckLengths(int predictions, int labels)
    {
        if (predictions != labels)
            throw new ArgumentException($"predictions and labels differ in length ({predictions} vs {labels})");
        if (labels == 0) throw new ArgumentException("no examples to score");
    }
}
