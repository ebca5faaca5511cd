using ShareLoRA.Cli.Formatting;
using ShareLoRA.Cli.Progress;
using Xunit;

namespace ShareLoRA.Cli.Tests.Progress;

public class EtaEstimatorTests
{
    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void Unknown_until_two_steps_were_seen_then_steps_left_times_pace()
    {
        var eta = new EtaEstimator(totalSteps: 100);
        Assert.Null(eta.SecondsPerStep);
        Assert.Null(eta.Remaining);
        eta.Observe(1, S(50)); // 50 s of model loading before step 1 say nothing about the pace
        Assert.Null(eta.SecondsPerStep);
        Assert.Null(eta.Remaining);
        eta.Observe(10, S(68));
        Assert.Equal(2.0, eta.SecondsPerStep);
        Assert.Equal(S(180), eta.Remaining);
    }

    [Fact]
    public void Pace_is_measured_over_the_window_so_a_slow_start_fades_out()
    {
        var eta = new EtaEstimator(totalSteps: 100, window: 4);
        eta.Observe(1, S(5));
        eta.Observe(2, S(35)); // warm-up step: 30 s
        for (int step = 3; step <= 6; step++) eta.Observe(step, S(35 + (step - 2) * 1.0));
        // Window of 4 intervals: steps 2..6 at 1 s each; the 30 s step has left the window.
        Assert.Equal(1.0, eta.SecondsPerStep);
        Assert.Equal(S(94), eta.Remaining);
    }

    [Fact]
    public void The_pace_follows_the_recent_steps_not_the_average_since_step_1()
    {
        var eta = new EtaEstimator(totalSteps: 1000, window: 10);
        // 100 steps at 1 s, then the run slows to 3 s per step (say a neighbour started a job on the machine).
        for (int step = 1; step <= 100; step++) eta.Observe(step, S(step));
        for (int step = 101; step <= 120; step++) eta.Observe(step, S(100 + (step - 100) * 3));
        Assert.Equal(3.0, eta.SecondsPerStep);
        Assert.Equal(S(880 * 3.0), eta.Remaining);
    }

    [Fact]
    public void Repeated_or_backward_reports_do_not_change_the_pace()
    {
        var eta = new EtaEstimator(10);
        eta.Observe(1, S(2));
        eta.Observe(2, S(4));
        eta.Observe(2, S(100));
        eta.Observe(1, S(200));
        Assert.Equal(2.0, eta.SecondsPerStep);
        Assert.Equal(2, eta.Step);
    }

    [Fact]
    public void Resumed_runs_time_only_the_new_steps()
    {
        var eta = new EtaEstimator(totalSteps: 3000);
        eta.Observe(1001, S(70)); // first step after restoring a checkpoint at step 1000
        Assert.Null(eta.Remaining);
        eta.Observe(1011, S(90));
        Assert.Equal(S(1989 * 2.0), eta.Remaining);
    }

    [Fact]
    public void Reports_that_skip_steps_count_every_step_they_cover()
    {
        // submit --wait polls the coordinator: several steps may finish between two looks.
        var eta = new EtaEstimator(totalSteps: 100);
        eta.Observe(3, S(10));
        eta.Observe(7, S(12));
        eta.Observe(8, S(12.5));
        Assert.Equal(0.5, eta.SecondsPerStep);
        Assert.Equal(S(46), eta.Remaining);
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
