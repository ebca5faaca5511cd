using ShareLoRA.Cli.Progress;
using Spectre.Console.Testing;
using Xunit;

namespace ShareLoRA.Cli.Tests.Progress;

public class LiveProgressSinkTests
{
    private sealed class FakeClock
    {
        public TimeSpan Now { get; set; }
        public TimeSpan Read() => Now;
    }

    private static TestConsole Terminal() => new TestConsole().Interactive().EmitAnsiSequences().Width(200);

    [Fact]
    public void The_bar_shows_step_loss_throughput_and_the_ETA_of_the_recent_pace()
    {
        var console = Terminal();
        var clock = new FakeClock();
        using var sink = new LiveProgressSink(console, clock.Read);
        sink.Start(10);
        clock.Now += TimeSpan.FromSeconds(30); // loading: not part of the pace
        sink.Report(1, 2.5, 1234.4, "lr 1.0e-3  grad 0.500");
        Assert.Equal("step 1/10  loss 2.5000  1,234 tok/s  eta ?  lr 1.0e-3  grad 0.500", sink.Description);
        for (int step = 2; step <= 4; step++)
        {
            clock.Now += TimeSpan.FromSeconds(2);
            sink.Report(step, 3.0 - 0.5 * step, 1234.4, "lr 1.0e-3  grad 0.500");
        }
        Assert.Equal("step 4/10  loss 1.0000  1,234 tok/s  eta 12s  lr 1.0e-3  grad 0.500", sink.Description);
        sink.Finish("trained 4 steps");

        var output = console.Output;
        // The last redraw shows the final figures, then the summary with the time since Start.
        int bar = output.LastIndexOf("step 4/10  loss 1.0000  1,234 tok/s  eta 12s", StringComparison.Ordinal);
        int summary = output.IndexOf("trained 4 steps", StringComparison.Ordinal);
        Assert.True(bar >= 0, output);
        Assert.True(summary > bar, output);
        Assert.Contains("(36s)", output[summary..]);
        Assert.Contains("40%", output);
    }

    [Fact]
    public void Items_show_the_count_what_was_found_and_the_ETA_and_Finish_without_a_summary_prints_none()
    {
        var console = Terminal();
        var clock = new FakeClock();
        using var sink = new LiveProgressSink(console, clock.Read);
        sink.Start(4);
        Assert.Equal("starting: 0/4", sink.Description);
        clock.Now += TimeSpan.FromSeconds(10);
        sink.ReportItem(1, "alpha: accuracy 1.0000 (2/2)");
        Assert.Equal("[1/4] alpha: accuracy 1.0000 (2/2)  eta ?", sink.Description);
        clock.Now += TimeSpan.FromSeconds(5);
        sink.ReportItem(2, "beta: accuracy 0.3333 (1/3)");
        Assert.Equal("[2/4] beta: accuracy 0.3333 (1/3)  eta 10s", sink.Description); // 2 items left at 5 s each
        sink.Finish(null);

        var output = StripAnsi(console.Output);
        Assert.Contains("[2/4] beta: accuracy 0.3333 (1/3)  eta 10s", output);
        Assert.Contains("50%", output);
        Assert.DoesNotContain("(15s)", output); // no summary line with the elapsed time
    }

    [Fact]
    public void Quiet_on_standard_error_picks_the_plain_sink_whatever_the_terminal()
    {
        using var sink = ProgressSinks.CreateOnStandardError(quiet: true);
        Assert.IsType<PlainProgressSink>(sink);
        Assert.Same(TextWriter.Null, sink.Messages);
    }

    [Fact]
    public void Messages_print_as_whole_lines_above_the_live_bar()
    {
        var console = Terminal();
        var clock = new FakeClock();
        using var sink = new LiveProgressSink(console, clock.Read);
        sink.Start(5);
        sink.Messages.Write("12:00:00 plan: ");
        sink.Messages.Write("2 stages\n12:00:01 model loaded");
        sink.Messages.WriteLine();
        clock.Now += TimeSpan.FromSeconds(1);
        sink.Report(1, 1.0, 10);
        sink.Finish("done");

        // The live display returns to its first line with CR and cursor-up before each redraw: split on both.
        var lines = StripAnsi(console.Output).Split('\n', '\r').Select(l => l.Trim()).ToList();
        Assert.Contains("12:00:00 plan: 2 stages", lines);
        Assert.Contains("12:00:01 model loaded", lines);
        // Nothing was printed inside the bar: every line holding a message holds only that message.
        Assert.All(lines.Where(l => l.Contains("12:00:0")), l => Assert.DoesNotContain("step", l));
    }

    [Fact]
    public void Dispose_without_Finish_stops_the_display_without_a_summary()
    {
        var console = Terminal();
        var sink = new LiveProgressSink(console, () => TimeSpan.Zero);
        sink.Start(5);
        sink.Dispose();
        Assert.DoesNotContain("done", console.Output);
        Assert.Throws<InvalidOperationException>(() => new LiveProgressSink(console).Report(1, 1, 1));
    }

    [Fact]
    public void Quiet_picks_the_plain_sink_whatever_the_terminal()
    {
        using var sink = ProgressSinks.Create(quiet: true);
        Assert.IsType<PlainProgressSink>(sink);
        Assert.Same(TextWriter.Null, sink.Messages);
    }

    [Fact]
    public void On_a_narrow_terminal_the_description_is_cut_to_the_line_instead_of_wrapping()
    {
        var console = new TestConsole().Interactive().EmitAnsiSequences().Width(60);
        var clock = new FakeClock();
        using var sink = new LiveProgressSink(console, clock.Read);
        sink.Start(10);
        clock.Now += TimeSpan.FromSeconds(1);
        sink.Report(1, 2.5, 1234.4, "lr 1.0e-3  grad 0.500  eval 2.7000");
        sink.Finish("done");
        var lines = StripAnsi(console.Output).Split('\n', '\r').Select(l => l.TrimEnd()).Where(l => l.Contains("step 1/10")).ToList();
        Assert.NotEmpty(lines);
        // Bar, percentage and the cut description share one line that fits the terminal.
        Assert.All(lines, l => Assert.Contains("10%", l));
        Assert.All(lines, l => Assert.True(l.Length <= 60, l));
        Assert.All(lines, l => Assert.EndsWith("…", l));
    }

    // ESC [ ... letter: colour, cursor moves and erases of the live display.
    private static string StripAnsi(string text) =>
        System.Text.RegularExpressions.Regex.Replace(text, @"\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]", "");
}
