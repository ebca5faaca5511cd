namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// Pearson and Spearman correlation as scipy.stats computes them for STS-B. Spearman is the Pearson correlation of
/// the ranks, ties sharing the average of the ranks they span (scipy's rankdata "average"). A constant input has no
/// defined correlation: the result is NaN, as scipy returns.
/// </summary>
public static class CorrelationMetrics
{
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ClassificationMetrics.CheckLengths(x.Count, y.Count);
        double meanX = x.Average(), meanY = y.Average();
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.Count; i++)
        {
            double dx = x[i] - meanX, dy = y[i] - meanY;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        if (sxx == 0 || syy == 0) return double.NaN;
        // Clamp: rounding can put a perfect correlation a hair past ±1.
        return Math.Clamp(sxy / Math.Sqrt(sxx * syy), -1.0, 1.0);
    }

    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ClassificationMetrics.CheckLengths(x.Count, y.Count);
        return Pearson(AverageRanks(x), AverageRanks(y));
    }

    /// <summary>1-based ranks; a run of equal values gets the mean of the ranks it occupies ([5, 1, 5] -> [2.5, 1, 2.5]).</summary>
    public static double[] AverageRanks(IReadOnlyList<double> values)
    {
        var order = Enumerable.Range(0, values.Count).OrderBy(i => values[i]).ToArray();
        var ranks = new double[values.Count];
        int start = 0;
        while (start < order.Length)
        {
            int end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]]) end++;
            double rank = (start + end) / 2.0 + 1.0; // mean of ranks start+1 .. end+1
            for (int k = start; k <= end; k++) ranks[order[k]] = rank;
            start = end + 1;
        }
        return ranks;
    }
}
