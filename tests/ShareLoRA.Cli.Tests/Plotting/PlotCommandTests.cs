using System.Buffers.Binary;
using System.Globalization;
using ShareLoRA.Cli.Plotting;
using Xunit;

namespace ShareLoRA.Cli.Tests.Plotting;

[Collection("Console")]
public sealed class PlotCommandTests : IDisposable
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly string _run = Directory.CreateTempSubdirectory("sharelora-plot-").FullName;

    public void Dispose() => Directory.Delete(_run, recursive: true);

    /// <summary>200 steps of a decaying loss with an eval every 50 steps, plus event lines that must be skipped.</summary>
    private void WriteSyntheticMetrics()
    {
        var inv = CultureInfo.InvariantCulture;
        using var w = new StreamWriter(Path.Combine(_run, "metrics.jsonl"));
        w.WriteLine("""{"event": "start", "step": 0, "wall_s": 0.0, "job": "demo"}""");
        for (int step = 1; step <= 200; step++)
        {
            double loss = 2.5 * Math.Exp(-step / 60.0) + 0.8 + 0.05 * Math.Sin(step);
            double lr = 2e-4 * Math.Min(1.0, step / 10.0);
            string eval = step % 50 == 0 ? string.Format(inv, ", \"eval_loss\": {0}", loss + 0.1) : "";
            w.WriteLine(string.Format(inv,
                "{{\"step\": {0}, \"loss\": {1}, \"lr\": {2}, \"grad_norm\": 0.4, \"tokens_per_s\": {3}, \"wall_s\": {4}{5}}}",
                step, loss, lr, 1500 + 100 * Math.Cos(step / 7.0), step * 1.3, eval));
            if (step % 100 == 0) w.WriteLine($$"""{"event": "checkpoint", "step": {{step}}, "path": "ckpt-{{step}}"}""");
        }
    }

    [Fact]
    public void Writes_three_valid_nonempty_PNGs_from_a_synthetic_run()
    {
        WriteSyntheticMetrics();
        var (code, stdout, stderr) = CliRun.Run("plot", "--run", _run);
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        foreach (var name in new[] { "loss.png", "lr.png", "throughput.png" })
        {
            var path = Path.Combine(_run, name);
            Assert.Contains(path, stdout);
            var bytes = File.ReadAllBytes(path);
            Assert.True(bytes.Length > 10_000, $"{name} is only {bytes.Length} bytes");
            Assert.Equal(PngSignature, bytes[..8]);
            // IHDR is the first chunk: width and height as big-endian integers at offsets 16 and 20.
            Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
            Assert.Equal(MetricsPlots.Width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
            Assert.Equal(MetricsPlots.Height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        }
    }

    [Fact]
    public void Out_option_writes_elsewhere()
    {
        WriteSyntheticMetrics();
        var outDir = Path.Combine(_run, "plots");
        var (code, _, _) = CliRun.Run("plot", "--run", _run, "--out", outDir);
        Assert.Equal(0, code);
        Assert.True(File.Exists(Path.Combine(outDir, "loss.png")));
        Assert.False(File.Exists(Path.Combine(_run, "loss.png")));
    }

    [Fact]
    public void Malformed_line_exits_2_naming_the_file_and_line()
    {
        var file = Path.Combine(_run, "metrics.jsonl");
        File.WriteAllText(file,
            """
            {"step": 1, "loss": 2.0, "lr": 0.0001, "grad_norm": 0.5, "tokens_per_s": 1000, "wall_s": 1.0}
            {"event": "checkpoint", "step": 1}
            {"step": 2, "loss": oops, "lr": 0.0001}
            {"step": 3, "loss": 1.8, "lr": 0.0001, "grad_norm": 0.5, "tokens_per_s": 1000, "wall_s": 3.0}

            """);
        var (code, stdout, stderr) = CliRun.Run("plot", "--run", _run);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.StartsWith($"error: {file}:3: not valid JSON", stderr);
        Assert.DoesNotContain('\n', stderr.TrimEnd());
        Assert.False(File.Exists(Path.Combine(_run, "loss.png")));
    }

    [Fact]
    public void Wrong_field_type_names_the_field()
    {
        var file = Path.Combine(_run, "metrics.jsonl");
        File.WriteAllText(file, "{\"step\": 1, \"loss\": \"low\", \"lr\": 0.0001, \"grad_norm\": 0.5, \"tokens_per_s\": 1000, \"wall_s\": 1.0}\n");
        var (code, _, stderr) = CliRun.Run("plot", "--run", _run);
        Assert.Equal(2, code);
        Assert.Equal($"error: {file}:1: field 'loss' must be a number (got \"low\")", stderr.TrimEnd());
    }

    [Fact]
    public void Missing_metrics_file_and_empty_run_are_one_line_errors()
    {
        var (code, _, stderr) = CliRun.Run("plot", "--run", _run);
        Assert.Equal(2, code);
        Assert.Equal($"error: {Path.Combine(_run, "metrics.jsonl")}: metrics file not found", stderr.TrimEnd());

        File.WriteAllText(Path.Combine(_run, "metrics.jsonl"), "{\"event\": \"start\"}\n");
        (code, _, stderr) = CliRun.Run("plot", "--run", _run);
        Assert.Equal(2, code);
        Assert.Equal($"error: {Path.Combine(_run, "metrics.jsonl")}: no step records to plot", stderr.TrimEnd());

        (code, _, stderr) = CliRun.Run("plot", "--run", Path.Combine(_run, "nope"));
        Assert.Equal(2, code);
        Assert.Equal($"error: --run: directory not found: {Path.Combine(_run, "nope")}", stderr.TrimEnd());
    }
}
