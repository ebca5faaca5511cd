using ShareLoRA.Training.Tasks.Glue;
using Xunit;

namespace ShareLoRA.Training.Tests.Tasks;

public sealed class ClassificationMetricsTests
{
    [Fact]
    public void AccuracyAndF1OfThePositiveClassByHand()
    {
        int[] pred = [1, 1, 0, 0, 1], gold = [1, 0, 1, 0, 1];
        // correct at 0, 3, 4 -> 3/5. TP = 2 (0, 4), FP = 1 (1), FN = 1 (2): F1 = 2·2 / (2·2 + 1 + 1) = 4/6.
        Assert.Equal(0.6, ClassificationMetrics.Accuracy(pred, gold), 12);
        Assert.Equal(4.0 / 6.0, ClassificationMetrics.F1(pred, gold), 12);
        // No positive predicted and none gold: 0, as sklearn's zero_division default gives.
        Assert.Equal(0.0, ClassificationMetrics.F1([0, 0], [0, 0]));
    }

    [Fact]
    public void MatthewsByHandAndZeroWhenAClassIsNeverPredicted()
    {
        // TP = 1, FP = 1, TN = 2, FN = 0: (1·2 − 1·0) / √((1+1)(1+0)(2+1)(2+0)) = 2/√12.
        Assert.Equal(2.0 / Math.Sqrt(12), ClassificationMetrics.MatthewsCorrelation([1, 1, 0, 0], [1, 0, 0, 0]), 12);
        // Every prediction 1: the "predicted" variance s² − Σp² = 16 − 16 = 0 -> 0 (sklearn returns 0, not NaN).
        Assert.Equal(0.0, ClassificationMetrics.MatthewsCorrelation([1, 1, 1, 1], [1, 0, 1, 0]));
        // Only one class among the labels: the other factor is 0.
        Assert.Equal(0.0, ClassificationMetrics.MatthewsCorrelation([1, 0, 1, 0], [1, 1, 1, 1]));
        Assert.Equal(1.0, ClassificationMetrics.MatthewsCorrelation([1, 0, 1, 0], [1, 0, 1, 0]), 12);
        Assert.Equal(-1.0, ClassificationMetrics.MatthewsCorrelation([0, 1, 0, 1], [1, 0, 1, 0]), 12);
    }

    [Fact]
    public void LengthMismatchIsAnError()
    {
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Accuracy([1], [1, 0]));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.Accuracy([], []));
    }

    [Fact]
    public void SpearmanAveragesTiedRanks()
    {
        Assert.Equal([2.5, 1.0, 2.5], CorrelationMetrics.AverageRanks([5, 1, 5]));
        // x ranks [1, 2.5, 2.5, 4], y ranks [1, 3, 2, 4]; both means 2.5.
        // dx = [−1.5, 0, 0, 1.5], dy = [−1.5, .5, −.5, 1.5]: Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 -> 4.5/√22.5.
        Assert.Equal(4.5 / Math.Sqrt(22.5), CorrelationMetrics.Spearman([1, 2, 2, 3], [1, 3, 2, 4]), 12);
    }

    [Fact]
    public void PearsonByHandAndNaNForAConstantInput()
    {
        // x = [1,2,3], y = [2,4,7]: dx = [−1,0,1], dy = [−7/3, −1/3, 8/3]; Σdxdy = 5, Σdx² = 2, Σdy² = 38/3.
        Assert.Equal(5 / Math.Sqrt(2 * 38.0 / 3), CorrelationMetrics.Pearson([1, 2, 3], [2, 4, 7]), 12);
        Assert.True(double.IsNaN(CorrelationMetrics.Pearson([1, 1, 1], [1, 2, 3])));
    }

    [Fact]
    public void GlueSelectsEachTasksMetrics()
    {
        var cola = GlueMetrics.Classification(GlueTask.Cola, [1, 1, 1, 1], [1, 0, 1, 0]);
        Assert.Equal("mcc", cola.Reported);
        Assert.Equal(0.0, cola.ReportedValue);
        var mrpc = GlueMetrics.Classification(GlueTask.Mrpc, [1, 1, 0, 0, 1], [1, 0, 1, 0, 1]);
        Assert.Equal(["accuracy", "f1"], mrpc.Metrics.Keys.Order());
        Assert.Equal("accuracy", mrpc.Reported);
        Assert.Equal(["accuracy"], GlueMetrics.Classification(GlueTask.Rte, [0], [0]).Metrics.Keys);
        var stsb = GlueMetrics.Regression([1, 2, 3], [2, 4, 7]);
        Assert.Equal(["pearson", "spearman"], stsb.Metrics.Keys.Order());
        Assert.Equal(1.0, stsb.Metrics["spearman"], 12);
        Assert.Throws<ArgumentException>(() => GlueMetrics.Classification(GlueTask.Stsb, [0], [0]));
    }
}
