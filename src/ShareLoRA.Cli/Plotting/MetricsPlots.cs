using ScottPlot;
using ShareLoRA.Training.Metrics;

namespace ShareLoRA.Cli.Plotting;

/// <summary>
/// Renders a run's metrics as PNG files: loss.png (train and eval loss), lr.png and throughput.png, each against the
/// optimizer step. Non-finite values (a diverged loss) are left out of the lines rather than breaking the axes.
/// </summary>
public static class MetricsPlots
{
    /// <summary>Pixel size of every plot.</summary>
    public const int Width = 1000, Height = 600;

    /// <summary>Writes the three plots into <paramref name="outputDir"/> and returns their paths in that order.</summary>
    public static IReadOnlyList<string> Write(MetricsLog log, string outputDir, string runName)
    {
        if (log.Steps.Count == 0) throw new InvalidDataException($"{runName}: no step records to plot");
        Directory.CreateDirectory(outputDir);
        string loss = Path.Combine(outputDir, "loss.png"), lr = Path.Combine(outputDir, "lr.png"), throughput = Path.Combine(outputDir, "throughput.png");

        Save(loss, $"{runName}: loss", "loss", plot =>
        {
            Line(plot, log.Steps.Select(s => ((long)s.Step, s.Loss)), "train loss", Colors.C0, markers: false);
            var eval = log.Evaluations.Select(e => (e.Step, e.EvalLoss)).ToList();
            if (eval.Count > 0) Line(plot, eval, "eval loss", Colors.C1, markers: true);
        });
        Save(lr, $"{runName}: learning rate", "learning rate", plot =>
        {
            Line(plot, log.Steps.Select(s => ((long)s.Step, s.LearningRate)), "lr", Colors.C2, markers: false);
            // Learning rates live around 1e-4: "1.5e-4" reads better than ScottPlot's default "0.00015" / "9E-05".
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
            {
                LabelFormatter = v => v == 0 ? "0" : v.ToString("0.0#e+0", System.Globalization.CultureInfo.InvariantCulture),
            };
        });
        Save(throughput, $"{runName}: throughput", "tokens / s", plot =>
        {
            Line(plot, log.Steps.Select(s => ((long)s.Step, s.TokensPerSecond)), "tokens/s", Colors.C3, markers: false, width: 1);
            // Per-step throughput is noisy (checkpoints, evaluations): a trailing mean shows the trend.
            int window = Math.Clamp(log.Steps.Count / 20, 1, 50);
            if (window > 1) Line(plot, TrailingMean(log.Steps.Select(s => ((long)s.Step, s.TokensPerSecond)).ToList(), window),
                $"mean of {window} steps", Colors.Black, markers: false);
        });
        return [loss, lr, throughput];
    }

    private static void Save(string path, string title, string yLabel, Action<Plot> draw)
    {
        using var plot = new Plot();
        draw(plot);
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, Width, Height);
    }

    private static void Line(Plot plot, IEnumerable<(long Step, double Value)> points, string label, Color color, bool markers, float width = 2)
    {
        var finite = points.Where(p => double.IsFinite(p.Value)).ToList();
        if (finite.Count == 0) return;
        var scatter = plot.Add.Scatter(finite.Select(p => (double)p.Step).ToArray(), finite.Select(p => p.Value).ToArray(), color);
        scatter.LegendText = label;
        scatter.LineWidth = width;
        scatter.MarkerSize = markers || finite.Count == 1 ? 7 : 0;
    }

    private static IEnumerable<(long Step, double Value)> TrailingMean(IReadOnlyList<(long Step, double Value)> points, int window)
    {
        double sum = 0;
        var queue = new Queue<double>();
        foreach (var (step, value) in points)
        {
            if (!double.IsFinite(value)) continue;
            queue.Enqueue(value);
            sum += value;
            if (queue.Count > window) sum -= queue.Dequeue();
            yield return (step, sum / queue.Count);
        }
    }
}
