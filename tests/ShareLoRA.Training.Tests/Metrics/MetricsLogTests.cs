using ShareLoRA.Training.Metrics;
using Xunit;

namespace ShareLoRA.Training.Tests.Metrics;

public sealed class MetricsLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharelora-metrics-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string FilePath => Path.Combine(_dir, MetricsLog.FileName);

    /// <summary>A step line with only the fields every writer has (no clip, token counts or cluster fields).</summary>
    private static StepMetrics Step(int step, double loss, double lr, double gradNorm, double tokensPerSecond, double wallSeconds) =>
        new(step, loss, lr, gradNorm, ClipCoefficient: null, Tokens: null, TargetTokens: null, tokensPerSecond, wallSeconds);

    [Fact]
    public void An_eval_only_baseline_line_is_an_evaluation_not_a_step()
    {
        // The trainer writes the eval loss before its first update as {"step":0,"eval_loss":...}: no training loss yet.
        var log = MetricsLog.Parse(
            "{\"step\":0,\"eval_loss\":6.5}\n" +
            "{\"step\":1,\"loss\":6.4,\"lr\":0.001,\"grad_norm\":1.5,\"tokens_per_s\":100,\"wall_s\":0.5}\n" +
            "{\"step\":2,\"loss\":6.1,\"lr\":0.001,\"grad_norm\":1.2,\"tokens_per_s\":100,\"wall_s\":1.0,\"eval_loss\":6.0}\n",
            "metrics.jsonl");

        Assert.Equal([1, 2], log.Steps.Select(s => s.Step));
        Assert.Equal([new EvalPoint(0, 6.5), new EvalPoint(2, 6.0)], log.Evaluations);
    }

    [Fact]
    public void Eval_metrics_follow_eval_loss_on_step_and_baseline_lines_and_read_back()
    {
        var accuracy = new EvalMetrics([("dev_accuracy", 0.625), ("dev_f1", 2.0 / 3.0)]);
        var step = Step(2, 0.69, 1e-3, 0.5, 100, 1.0) with { EvalLoss = 0.7, EvalMetrics = accuracy };
        using (var writer = new MetricsWriter(FilePath))
        {
            writer.WriteEval(0, 0.75, new EvalMetrics([("dev_accuracy", 0.5), ("dev_f1", double.NaN)]));
            writer.Write(Step(1, 0.7, 1e-3, 0.5, 100, 0.5));
            writer.Write(step);
        }
        var lines = File.ReadAllLines(FilePath);
        Assert.Equal("{\"step\":0,\"eval_loss\":0.75,\"dev_accuracy\":0.5,\"dev_f1\":\"NaN\"}", lines[0]);
        Assert.Contains("\"eval_loss\":0.7,\"dev_accuracy\":0.625,\"dev_f1\":0.6666666666666666", lines[2]);

        var log = MetricsLog.Read(FilePath);
        Assert.Equal([Step(1, 0.7, 1e-3, 0.5, 100, 0.5), step], log.Steps);
        Assert.Null(log.Steps[0].EvalMetrics);
        Assert.Equal([new EvalPoint(0, 0.75, new EvalMetrics([("dev_accuracy", 0.5), ("dev_f1", double.NaN)])), new EvalPoint(2, 0.7, accuracy)],
            log.Evaluations);
    }

    [Fact]
    public void A_line_without_loss_or_eval_loss_still_names_the_missing_field()
    {
        var e = Assert.Throws<InvalidDataException>(() => MetricsLog.Parse("{\"step\":3,\"lr\":0.1}\n{}", "m.jsonl"));
        Assert.Equal("m.jsonl:1: missing field 'loss'", e.Message);
    }

    [Fact]
    public void Writer_and_reader_round_trip_steps_events_and_non_finite_values()
    {
        var steps = new[]
        {
            Step(1, 2.5, 1e-4, 0.7, 1534.5, 1.25),
            Step(2, 2.25, 1e-4, 0.6, 1600, 2.5) with { EvalLoss = 2.4 },
            Step(3, double.NaN, 1e-4, double.PositiveInfinity, 1600, 3.75),
        };
        using (var writer = new MetricsWriter(FilePath))
        {
            writer.WriteEvent("start", step: 0, wallSeconds: 0, fields: new Dictionary<string, object?> { ["stages"] = 4, ["job"] = "demo" });
            writer.Write(steps[0]);
            writer.Write(steps[1]);
            writer.WriteEvent("checkpoint", step: 2, fields: new Dictionary<string, object?> { ["path"] = "ckpt-2" });
            writer.Write(steps[2]);
        }
        var log = MetricsLog.Read(FilePath);
        Assert.Equal(steps, log.Steps);
        Assert.Equal(["start", "checkpoint"], log.Events.Select(e => e.Name));
        Assert.Equal(0, log.Events[0].Step);
        Assert.Equal(0.0, log.Events[0].WallSeconds);
        Assert.Contains("\"job\":\"demo\"", log.Events[0].Json);
        Assert.Null(log.Events[1].WallSeconds);

        var lines = File.ReadAllLines(FilePath);
        Assert.Equal(5, lines.Length);
        Assert.Equal("""{"step":1,"loss":2.5,"lr":0.0001,"grad_norm":0.7,"tokens_per_s":1534.5,"wall_s":1.25}""", lines[1]);
        Assert.Contains("\"loss\":\"NaN\"", lines[4]);
    }

    [Fact]
    public void Writer_appends_to_an_existing_file_and_flushes_every_line()
    {
        using (var first = new MetricsWriter(FilePath)) first.Write(Step(1, 1, 1, 1, 1, 1));
        using var second = new MetricsWriter(FilePath, append: true);
        second.Write(Step(2, 1, 1, 1, 1, 2));
        // Read while the writer is still open: the line must already be on disk.
        Assert.Equal([1, 2], MetricsLog.Read(FilePath).Steps.Select(s => s.Step));
    }

    [Theory]
    [InlineData("{\"step\": 1, \"loss\": 2.0", "m.jsonl:2: not valid JSON")]
    [InlineData("[1, 2]", "m.jsonl:2: expected a JSON object, found array")]
    [InlineData("{\"step\": 2, \"loss\": 2.0, \"lr\": 0.1, \"grad_norm\": 1, \"wall_s\": 1}", "m.jsonl:2: missing field 'tokens_per_s'")]
    [InlineData("{\"step\": -1, \"loss\": 2.0}", "m.jsonl:2: field 'step' must be a non-negative integer (got -1)")]
    [InlineData("{\"step\": 1.5, \"loss\": 2.0}", "m.jsonl:2: field 'step' must be a non-negative integer (got 1.5)")]
    [InlineData("{\"event\": 7}", "m.jsonl:2: field 'event' must be a string (got 7)")]
    [InlineData("{\"step\": 2, \"loss\": \"x\", \"lr\": 0.1}", "m.jsonl:2: field 'loss' must be a number (got \"x\")")]
    public void Malformed_line_names_the_source_the_line_and_the_field(string badLine, string expected)
    {
        var text = "{\"step\": 1, \"loss\": 2.0, \"lr\": 0.1, \"grad_norm\": 1, \"tokens_per_s\": 5, \"wall_s\": 1}\n" + badLine + "\n";
        var e = Assert.Throws<InvalidDataException>(() => MetricsLog.Parse(text, "m.jsonl"));
        Assert.StartsWith(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_half_written_last_line_of_a_live_run_is_left_for_later()
    {
        var text = "{\"step\": 1, \"loss\": 2.0, \"lr\": 0.1, \"grad_norm\": 1, \"tokens_per_s\": 5, \"wall_s\": 1}\n{\"step\": 2, \"lo";
        Assert.Single(MetricsLog.Parse(text, "m.jsonl").Steps);
        // The same line terminated is a real error.
        Assert.Throws<InvalidDataException>(() => MetricsLog.Parse(text + "\n", "m.jsonl"));
    }

    [Fact]
    public void Blank_lines_CRLF_and_unknown_fields_are_accepted()
    {
        var text = "\r\n{\"step\": 1, \"loss\": 2.0, \"lr\": 0.1, \"grad_norm\": 1, \"tokens_per_s\": 5, \"wall_s\": 1, \"eval_loss\": null, \"mfu\": 0.4}\r\n\n";
        var log = MetricsLog.Parse(text, "m.jsonl");
        Assert.Equal(Step(1, 2.0, 0.1, 1, 5, 1), Assert.Single(log.Steps));
    }

    [Fact]
    public void Reserved_event_fields_are_refused()
    {
        using var writer = new MetricsWriter(FilePath);
        Assert.Throws<ArgumentException>(() => writer.WriteEvent("x", fields: new Dictionary<string, object?> { ["step"] = 3 }));
    }
    [Fact]
    public void Trainer_and_cluster_fields_round_trip_and_extra_fields_follow_in_order()
    {
        var full = new StepMetrics(7, 1.5, 2e-4, 0.9, ClipCoefficient: 0.5, Tokens: 640, TargetTokens: 300, TokensPerSecond: 1234.56,
            WallSeconds: 12.34567, EvalLoss: 1.75, BubbleFraction: 0.25, ActivationBytes: 1_048_576, AdapterSyncBytes: 4096);
        using (var writer = new MetricsWriter(FilePath))
        {
            writer.Write(full, [("mfu", 0.4)]);
            // The cluster's coordinator passes its figures as extra fields; whole numbers read back as counts.
            writer.Write(full with { Step = 8, BubbleFraction = null, ActivationBytes = null, AdapterSyncBytes = null },
                [("bubble_fraction", 0.125), ("activation_bytes", 2048), ("adapter_sync_bytes", 512)]);
        }
        var lines = File.ReadAllLines(FilePath);
        Assert.Equal("""{"step":7,"loss":1.5,"lr":0.0002,"grad_norm":0.9,"clip_coefficient":0.5,"tokens":640,"target_tokens":300,"tokens_per_s":1234.6,"wall_s":12.346,"eval_loss":1.75,"bubble_fraction":0.25,"activation_bytes":1048576,"adapter_sync_bytes":4096,"mfu":0.4}""",
            lines[0]);
        var log = MetricsLog.Read(FilePath);
        Assert.Equal(full with { TokensPerSecond = 1234.6, WallSeconds = 12.346 }, log.Steps[0]);
        Assert.Equal((0.125, 2048L, 512L), (log.Steps[1].BubbleFraction, log.Steps[1].ActivationBytes, log.Steps[1].AdapterSyncBytes));
    }

    [Fact]
    public void An_extra_field_that_repeats_a_step_field_is_refused()
    {
        using var writer = new MetricsWriter(FilePath);
        var e = Assert.Throws<ArgumentException>(() => writer.Write(Step(1, 1, 1, 1, 1, 1), [("loss", 2.0)]));
        Assert.Contains("'loss'", e.Message);
    }

    [Fact]
    public void A_fresh_writer_starts_the_file_afresh()
    {
        using (var first = new MetricsWriter(FilePath)) first.Write(Step(1, 1, 1, 1, 1, 1));
        using (var second = new MetricsWriter(FilePath)) second.Write(Step(5, 1, 1, 1, 1, 2));
        Assert.Equal([5], MetricsLog.Read(FilePath).Steps.Select(s => s.Step));
    }

    [Fact]
    public void Events_take_named_fields_in_order()
    {
        using (var writer = new MetricsWriter(FilePath))
            writer.WriteEvent("resume", 100, ("from_step", 100L), ("checkpoint", "step-000100"), ("save_ms", 12.5), ("ok", true));
        Assert.Equal("""{"event":"resume","step":100,"from_step":100,"checkpoint":"step-000100","save_ms":12.5,"ok":true}""",
            File.ReadAllLines(FilePath)[0]);
    }

    [Theory]
    [InlineData("\"tokens\": -3", "field 'tokens' must be a non-negative integer (got -3)")]
    [InlineData("\"activation_bytes\": 1.5", "field 'activation_bytes' must be a non-negative integer (got 1.5)")]
    public void Counts_must_be_non_negative_integers(string field, string expected)
    {
        var text = "{\"step\": 1, \"loss\": 2.0, \"lr\": 0.1, \"grad_norm\": 1, \"tokens_per_s\": 5, \"wall_s\": 1, " + field + "}\n";
        var e = Assert.Throws<InvalidDataException>(() => MetricsLog.Parse(text, "m.jsonl"));
        Assert.Equal("m.jsonl:1: " + expected, e.Message);
    }
}
