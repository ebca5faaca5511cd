using ShareLoRA.Cli.Progress;
using Xunit;

namespace ShareLoRA.Cli.Tests.Progress;

public class PlainProgressSinkTests
{
    /// <summary>A clock the test moves by hand.</summary>
    private sealed class FakeClock
    {
        public TimeSpan Now { get; set; }
        public TimeSpan Read() => Now;
    }

    [Fact]
    public void Writes_the_first_step_every_N_steps_and_the_last_step()
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        using (var sink = new PlainProgressSink(output, everySteps: 10, everyInterval: TimeSpan.FromHours(1), clock: clock.Read))
        {
            sink.Start(25);
            for (int step = 1; step <= 25; step++)
            {
                clock.Now += TimeSpan.FromSeconds(2);
                sink.Report(step, loss: 3.0 - step * 0.1, tokensPerSecond: 1234.4, extra: "lr 2.0e-4");
            }
            sink.Finish("trained 25 steps");
        }
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(
        [
            "step 1/25 (4.0%)  loss 2.9000  1,234 tok/s  elapsed 2s  eta ?  lr 2.0e-4",
            "step 11/25 (44.0%)  loss 1.9000  1,234 tok/s  elapsed 22s  eta 28s  lr 2.0e-4",
            "step 21/25 (84.0%)  loss 0.9000  1,234 tok/s  elapsed 42s  eta 8s  lr 2.0e-4",
            "step 25/25 (100.0%)  loss 0.5000  1,234 tok/s  elapsed 50s  eta 0s  lr 2.0e-4",
            "trained 25 steps (50s)",
        ], lines);
    }

    [Fact]
    public void Writes_a_line_when_the_interval_passes_even_between_step_marks()
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        var sink = new PlainProgressSink(output, everySteps: 1000, everyInterval: TimeSpan.FromSeconds(30), clock: clock.Read);
        sink.Start(3000);
        for (int step = 1; step <= 7; step++)
        {
            clock.Now += TimeSpan.FromSeconds(10);
            sink.Report(step, 1.0, 100);
        }
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // Step 1 (first), step 4 (30 s after step 1), step 7 (30 s after step 4).
        Assert.Equal(["step 1/3000", "step 4/3000", "step 7/3000"], lines.Select(l => l[..l.IndexOf(' ', 5)]));
        Assert.EndsWith("eta 8h19m", lines[2]); // 2993 steps left at 10 s per step
    }

    [Fact]
    public void Finish_writes_the_last_unprinted_report_before_the_summary()
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        var sink = new PlainProgressSink(output, everySteps: 100, clock: clock.Read);
        sink.Start(1000);
        for (int step = 1; step <= 5; step++) { clock.Now += TimeSpan.FromSeconds(1); sink.Report(step, double.NaN, 10); }
        sink.Finish("stopped: loss is NaN");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("step 5/1000 (0.5%)  loss NaN  10 tok/s", lines[1]);
        Assert.Equal("stopped: loss is NaN (5s)", lines[2]);
    }

    [Fact]
    public void A_resumed_run_says_where_it_resumes_and_times_only_new_steps()
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        var sink = new PlainProgressSink(output, everySteps: 1, clock: clock.Read);
        sink.Start(200, startStep: 100);
        clock.Now += TimeSpan.FromSeconds(40); // restoring the checkpoint and the first step after it
        sink.Report(101, 1.0, 100);
        clock.Now += TimeSpan.FromSeconds(4);
        sink.Report(102, 1.0, 100);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("resuming at step 100/200", lines[0]);
        Assert.EndsWith("elapsed 40s  eta ?", lines[1]);
        Assert.EndsWith("elapsed 44s  eta 6m32s", lines[2]); // 98 steps x 4 s
    }

    [Fact]
    public void Items_write_counted_lines_first_every_N_and_last_and_no_summary_when_none_is_given()
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        using (var sink = new PlainProgressSink(output, everySteps: 10, everyInterval: TimeSpan.FromHours(1), clock: clock.Read))
        {
            sink.Start(25);
            for (int done = 1; done <= 25; done++)
            {
                clock.Now += TimeSpan.FromSeconds(3);
                sink.ReportItem(done, $"correct {done / 2}");
            }
            sink.Finish(null);
        }
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["[1/25] correct 0", "[11/25] correct 5", "[21/25] correct 10", "[25/25] correct 12"], lines);
    }

    [Fact]
    public void Finish_without_a_summary_still_writes_the_last_unprinted_item()
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        var sink = new PlainProgressSink(output, everySteps: 100, clock: clock.Read);
        sink.Start(1000);
        for (int done = 1; done <= 4; done++) { clock.Now += TimeSpan.FromSeconds(1); sink.ReportItem(done, "anatomy: accuracy 0.2500 (1/4)"); }
        sink.Finish(null);
        Assert.Equal(["[1/1000] anatomy: accuracy 0.2500 (1/4)", "[4/1000] anatomy: accuracy 0.2500 (1/4)"],
            output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')));
    }

    [Fact]
    public void Quiet_items_without_a_summary_write_nothing()
    {
        var output = new StringWriter();
        using (var sink = new PlainProgressSink(output, everySteps: 1, quiet: true))
        {
            sink.Start(2);
            sink.ReportItem(1, "alpha: accuracy 1.0000 (2/2)");
            sink.ReportItem(2, "beta: accuracy 0.0000 (0/3)");
            sink.Finish(null);
        }
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Quiet_writes_only_the_summary_and_swallows_messages()
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        using (var sink = new PlainProgressSink(output, everySteps: 1, clock: clock.Read, quiet: true))
        {
            sink.Start(3, startStep: 1);
            sink.Messages.WriteLine("12:00:00 model loaded");
            for (int step = 2; step <= 3; step++) { clock.Now += TimeSpan.FromSeconds(1); sink.Report(step, 1.0, 10); }
            sink.Finish("trained 2 steps");
        }
        Assert.Equal("trained 2 steps (2s)" + Environment.NewLine, output.ToString());
    }

    [Fact]
    public void Messages_go_in_order_with_the_step_lines()
    {
        var clock = new FakeClock();
        var output = new StringWriter();
        using var sink = new PlainProgressSink(output, everySteps: 1, clock: clock.Read);
        sink.Start(2);
        sink.Messages.Write("12:00:00 plan: ");
        sink.Messages.WriteLine("2 stages");
        clock.Now += TimeSpan.FromSeconds(1);
        sink.Report(1, 1.0, 10);
        sink.Messages.WriteLine("12:00:01 step 1: eval loss 0.9000");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["12:00:00 plan: 2 stages", "step 1/2 (50.0%)", "12:00:01 step 1: eval loss 0.9000"],
            lines.Select(l => l.StartsWith("step ") ? l[..l.IndexOf("  ")] : l));
    }

    [Fact]
    public void Report_before_Start_is_a_programming_error()
    {
        var sink = new PlainProgressSink(new StringWriter());
        Assert.Throws<InvalidOperationException>(() => sink.Report(1, 1, 1));
    }
}
