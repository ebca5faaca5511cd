using ShareLoRA.Cli.Formatting;
using ShareLoRA.Cli.Progress;
using Xunit;

namespace ShareLoRA.Cli.Tests.Progress;

public class EtaEstimatorTests
{
    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void Unknown_before_the_first_step_then_steps_left_times_pace()
    {
        var eta = new EtaEstimator(totalSteps: 100, startStep: 0, startedAt: S(0));
        Assert.Null(eta.SecondsPerStep);
        Assert.Null(eta.Remaining);
        eta.Observe(10, S(20));
        Assert.Equal(2.0, eta.SecondsPerStep);
        Assert.Equal(S(180), eta.Remaining);
    }

    [Fact]
    public void Pace_is_measured_over_the_window_so_a_slow_start_fades_out()
    {
        var eta = new EtaEstimator(totalSteps: 100, startStep: 0, startedAt: S(0), window: 4);
        eta.Observe(1, S(30)); // warm-up step: 30 s
        for (int step = 2; step <= 5; step++) eta.Observe(step, S(30 + (step - 1) * 1.0));
        // Window of 4 intervals: steps 1..5 at 1 s each; the 30 s first step has left the window.
        Assert.Equal(1.0, eta.SecondsPerStep);
        Assert.Equal(S(95), eta.Remaining);
    }

    [Fact]
    public void Repeated_or_backward_reports_do_not_change_the_pace()
    {
        var eta = new EtaEstimator(10, 0, S(0));
        eta.Observe(2, S(4));
        eta.Observe(2, S(100));
        eta.Observe(1, S(200));
        Assert.Equal(2.0, eta.SecondsPerStep);
        Assert.Equal(2, eta.Step);
    }

    [Fact]
    public void Resumed_runs_count_from_the_resume_step()
    {
        var eta = new EtaEstimator(totalSteps: 3000, startStep: 1000, startedAt: S(50));
        eta.Observe(1010, S(70));
        Assert.Equal(S(1990 * 2.0), eta.Remaining);
    }

    [Theory]
    [InlineData(100, 100, 1.0, 0.0)]
    [InlineData(120, 100, 1.0, 0.0)]
    [InlineData(0, 100, 0.5, 50.0)]
    [InlineData(75, 100, 4.0, 100.0)]
    public void Estimate_is_remaining_steps_times_seconds_per_step(long done, long total, double pace, double expectedSeconds) =>
        Assert.Equal(S(expectedSeconds), EtaEstimator.Estimate(done, total, pace));

    [Fact]
    public void Estimate_is_unknown_without_a_finite_pace()
    {
        Assert.Null(EtaEstimator.Estimate(1, 10, null));
        Assert.Null(EtaEstimator.Estimate(1, 10, double.NaN));
        Assert.Null(EtaEstimator.Estimate(1, 10, double.PositiveInfinity));
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(42.4, "42s")]
    [InlineData(378, "6m18s")]
    [InlineData(3720, "1h02m")]
    [InlineData(29940, "8h19m")]
    [InlineData(183600, "2d03h")]
    public void Durations_read_short(double seconds, string expected) => Assert.Equal(expected, DurationText.Format(S(seconds)));

    [Fact]
    public void Unknown_duration_reads_as_a_question_mark() => Assert.Equal("?", DurationText.Format(null));

    [Theory]
    [InlineData(false, null, true)]
    [InlineData(false, "", true)]
    [InlineData(false, "false", true)]
    [InlineData(false, "true", false)]
    [InlineData(false, "TRUE", false)]
    [InlineData(true, null, false)]
    [InlineData(true, "true", false)]
    public void Live_display_only_on_a_terminal_outside_CI(bool redirected, string? ci, bool expected) =>
        Assert.Equal(expected, Terminal.IsInteractiveFor(redirected, ci));
}
