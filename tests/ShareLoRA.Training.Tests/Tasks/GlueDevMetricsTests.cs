using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Tasks.Glue;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Tasks;

/// <summary>The train/cluster path's GLUE dev metrics: pipeline floats in, `sharelora glue`'s scores and names out.</summary>
public sealed class GlueDevMetricsTests
{
    [Fact]
    public void ClassificationTasksScoreLikeGlueMetricsUnderTheirDevNames()
    {
        float[] predictions = [1, 1, 0, 0, 1], labels = [1, 0, 1, 0, 1];
        int[] p = [1, 1, 0, 0, 1], g = [1, 0, 1, 0, 1];

        var mrpc = GlueDevMetrics.Of(GlueTasks.Mrpc, predictions, labels)!;
        Assert.Equal(["dev_accuracy", "dev_f1"], mrpc.Values.Select(v => v.Name));
        Assert.Equal(ClassificationMetrics.Accuracy(p, g), mrpc["dev_accuracy"]);
        Assert.Equal(ClassificationMetrics.F1(p, g), mrpc["dev_f1"]);

        var cola = GlueDevMetrics.Of(GlueTasks.Cola, predictions, labels)!;
        Assert.Equal(["dev_mcc"], cola.Values.Select(v => v.Name));
        Assert.Equal(ClassificationMetrics.MatthewsCorrelation(p, g), cola["dev_mcc"]);

        var sst2 = GlueDevMetrics.Of(GlueTasks.Sst2, predictions, labels)!;
        Assert.Equal(["dev_accuracy"], sst2.Values.Select(v => v.Name));
        Assert.Equal("accuracy 0.6000", sst2.Describe());
    }

    [Fact]
    public void StsbScoreLabelsAreWidenedThroughTheirDecimalFormSoTheyEqualTheTsvDoubles()
    {
        // The TSV's 3.8 travels as 3.8f; scored as 3.799999952... Pearson would differ from `sharelora glue`'s in the last bits.
        double[] gold = [3.8, 0.2, 4.6, 1.0, 2.4, 5.0];
        float[] predicted = [3.1f, 0.7f, 4.2f, 1.9f, 1.5f, 4.4f];
        var expected = GlueMetrics.Regression(predicted.Select(x => (double)x).ToList(), gold);

        var metrics = GlueDevMetrics.Of(GlueTasks.Stsb, predicted, gold.Select(x => (float)x).ToList())!;
        Assert.Equal(["dev_pearson", "dev_spearman"], metrics.Values.Select(v => v.Name));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Metrics["pearson"]), BitConverter.DoubleToInt64Bits(metrics["dev_pearson"]!.Value));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Metrics["spearman"]), BitConverter.DoubleToInt64Bits(metrics["dev_spearman"]!.Value));
    }

    [Fact]
    public void NoTaskOrNoPredictionsGiveNoMetricsAndACountMismatchIsAnError()
    {
        Assert.Null(GlueDevMetrics.Of(null, [1f], [1f]));
        Assert.Null(GlueDevMetrics.Of(GlueTasks.Sst2, null, [1f]));
        var e = Assert.Throws<ArgumentException>(() => GlueDevMetrics.Of(GlueTasks.Sst2, [1f, 0f], [1f]));
        Assert.Contains("differ in length (2 vs 1)", e.Message);
    }

    [Fact]
    public void RowPredictionsAreTheArgmaxWithTiesToTheLowestClassOrTheScore()
    {
        using var scope = NewDisposeScope();
        var classes = tensor(new float[] { 1f, 1f, 0f, 2f, 3f, -1f, 0.5f, 0.5f }).view(4, 2);
        Assert.Equal([0f, 1f, 0f, 0f], RobertaStageModel.RowPredictions(classes));
        var three = tensor(new float[] { 0f, 2f, 2f, -1f, -1f, -1f }).view(2, 3);
        Assert.Equal([1f, 0f], RobertaStageModel.RowPredictions(three));
        var scores = tensor(new float[] { 0.25f, -3.5f, 4.125f }).view(3, 1);
        Assert.Equal([0.25f, -3.5f, 4.125f], RobertaStageModel.RowPredictions(scores));
    }

    [Fact]
    public void EvalMetricsCompareByContentAndBitwise()
    {
        var a = new EvalMetrics([("dev_pearson", 0.5), ("dev_spearman", double.NaN)]);
        Assert.Equal(a, new EvalMetrics([("dev_pearson", 0.5), ("dev_spearman", double.NaN)]));
        Assert.Equal(a.GetHashCode(), new EvalMetrics([("dev_pearson", 0.5), ("dev_spearman", double.NaN)]).GetHashCode());
        Assert.NotEqual(a, new EvalMetrics([("dev_pearson", BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(0.5) + 1)), ("dev_spearman", double.NaN)]));
        Assert.NotEqual(a, new EvalMetrics([("dev_spearman", double.NaN), ("dev_pearson", 0.5)]));
    }
}
