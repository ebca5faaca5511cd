using Xunit;
using ShareLoRA.Training.Planning;
using Xunit.Abstractions;

namespace ShareLoRA.Training.Tests.Planning;

public class PipelineScheduleTests(ITestOutputHelper output)
{
    public static TheoryData<ScheduleKind, int, int> AllSmallSchedules()
    {
        var data = new TheoryData<ScheduleKind, int, int>();
        foreach (var kind in new[] { ScheduleKind.GPipe, ScheduleKind.OneFOneB })
            for (int p = 1; p <= 6; p++)
                for (int m = 1; m <= 10; m++)
                    data.Add(kind, p, m);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllSmallSchedules))]
    public void Every_stage_runs_each_forward_and_backward_exactly_once_forward_first(ScheduleKind kind, int p, int m)
    {
        var schedule = PipelineSchedule.Create(kind, p, m);
        Assert.Equal(p, schedule.OpsByStage.Count);
        for (int s = 0; s < p; s++)
        {
            var ops = schedule.For(s);
            Assert.Equal(2 * m, ops.Count);
            for (int mb = 0; mb < m; mb++)
            {
                Assert.Single(ops, o => o == PipelineOp.F(mb));
                Assert.Single(ops, o => o == PipelineOp.B(mb));
                Assert.True(ops.ToList().IndexOf(PipelineOp.F(mb)) < ops.ToList().IndexOf(PipelineOp.B(mb)));
            }
            // Micro-batches enter and leave in order.
            Assert.Equal(Enumerable.Range(0, m), ops.Where(o => o.Kind == PipelineOpKind.Forward).Select(o => o.MicroBatch));
            Assert.Equal(Enumerable.Range(0, m), ops.Where(o => o.Kind == PipelineOpKind.Backward).Select(o => o.MicroBatch));
        }
    }

    [Theory]
    [MemberData(nameof(AllSmallSchedules))]
    public void In_flight_micro_batches_reach_exactly_the_bound(ScheduleKind kind, int p, int m)
    {
        var schedule = PipelineSchedule.Create(kind, p, m);
        for (int s = 0; s < p; s++)
        {
            int inFlight = 0, max = 0;
            foreach (var op in schedule.For(s))
            {
                inFlight += op.Kind == PipelineOpKind.Forward ? 1 : -1;
                Assert.True(inFlight >= 0);
                max = Math.Max(max, inFlight);
            }
            int expected = kind == ScheduleKind.GPipe ? m : Math.Min(p - s, m);
            Assert.Equal(expected, max);
            Assert.Equal(expected, schedule.InFlightBound(s));
            if (kind == ScheduleKind.OneFOneB) Assert.True(max <= p - s);
        }
    }

    [Theory]
    [MemberData(nameof(AllSmallSchedules))]
    public void Simulation_respects_every_dependency_and_never_overlaps_ops(ScheduleKind kind, int p, int m)
    {
        var schedule = PipelineSchedule.Create(kind, p, m);
        // Unequal costs per stage shake out ordering assumptions that unit costs would hide.
        var sim = PipelineSimulator.Simulate(schedule, (s, op) => op.Kind == PipelineOpKind.Forward ? 1 + s % 3 : 2 + (s * 7) % 5);
        var f = new Dictionary<(int, int), TimedOp>();
        var b = new Dictionary<(int, int), TimedOp>();
        for (int s = 0; s < p; s++)
        {
            var line = sim.Timeline[s];
            Assert.Equal(schedule.For(s), line.Select(t => t.Op));
            for (int i = 1; i < line.Count; i++) Assert.True(line[i].Start >= line[i - 1].End, $"stage {s} overlaps at {line[i].Op}");
            foreach (var t in line) (t.Op.Kind == PipelineOpKind.Forward ? f : b)[(s, t.Op.MicroBatch)] = t;
        }
        for (int s = 0; s < p; s++)
            for (int mb = 0; mb < m; mb++)
            {
                if (s > 0) Assert.True(f[(s, mb)].Start >= f[(s - 1, mb)].End, $"F{mb} on stage {s} before stage {s - 1}");
                Assert.True(b[(s, mb)].Start >= f[(s, mb)].End, $"B{mb} on stage {s} before its F");
                if (s < p - 1) Assert.True(b[(s, mb)].Start >= b[(s + 1, mb)].End, $"B{mb} on stage {s} before stage {s + 1}");
            }
    }

    [Theory]
    [MemberData(nameof(AllSmallSchedules))]
    public void Equal_costs_give_bubble_p_minus_1_over_m_plus_p_minus_1(ScheduleKind kind, int p, int m)
    {
        var unit = PipelineSimulator.Simulate(PipelineSchedule.Create(kind, p, m));
        Assert.Equal(2.0 * (m + p - 1), unit.Makespan, 9);
        Assert.Equal((p - 1.0) / (m + p - 1), unit.BubbleFraction, 12);
        Assert.All(unit.IdleTime, idle => Assert.Equal(2.0 * (p - 1), idle, 9));

        // Backward twice as long as forward, the same on every stage: the same bubble, makespan (m + p - 1)(F + B).
        var weighted = PipelineSimulator.Simulate(PipelineSchedule.Create(kind, p, m), Enumerable.Repeat(1.0, p).ToArray(), Enumerable.Repeat(2.0, p).ToArray());
        Assert.Equal(3.0 * (m + p - 1), weighted.Makespan, 9);
        Assert.Equal((p - 1.0) / (m + p - 1), weighted.BubbleFraction, 12);
    }

    [Fact]
    public void OneFOneB_prints_warm_up_steady_and_cool_down()
    {
        var schedule = PipelineSchedule.Create(ScheduleKind.OneFOneB, 3, 4);
        output.WriteLine(schedule.ToString());
        Assert.Equal(
            """
            1F1B p=3 m=4
            stage 0: F0 F1 F2 B0 F3 B1 B2 B3
            stage 1: F0 F1 B0 F2 B1 F3 B2 B3
            stage 2: F0 B0 F1 B1 F2 B2 F3 B3
            """.ReplaceLineEndings(), schedule.ToString().ReplaceLineEndings());
    }

    [Fact]
    public void GPipe_prints_all_forwards_then_all_backwards()
    {
        var schedule = PipelineSchedule.Create(ScheduleKind.GPipe, 2, 3);
        Assert.Equal(
            """
            GPipe p=2 m=3
            stage 0: F0 F1 F2 B0 B1 B2
            stage 1: F0 F1 F2 B0 B1 B2
            """.ReplaceLineEndings(), schedule.ToString().ReplaceLineEndings());
    }

    [Fact]
    public void Simulation_prints_a_gantt_chart()
    {
        var sim = PipelineSimulator.Simulate(PipelineSchedule.Create(ScheduleKind.OneFOneB, 3, 4));
        output.WriteLine(sim.ToString());
        var lines = sim.ToString().ReplaceLineEndings("\n").Split('\n');
        Assert.Equal("makespan 12, bubble 0.3333, idle per stage [4, 4, 4]", lines[0]);
        Assert.Equal("stage 0 |F0 F1 F2  .  . B0 F3 B1  . B2  . B3 |", lines[1]);
        Assert.Equal("stage 2 | .  . F0 B0 F1 B1 F2 B2 F3 B3  .  . |", lines[3]);
    }

    [Theory]
    [InlineData(0, 1, "pipeline stages must be >= 1 (got 0)")]
    [InlineData(2, 0, "micro-batches per step must be >= 1 (got 0)")]
    public void Invalid_sizes_are_rejected(int p, int m, string message) =>
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => PipelineSchedule.Create(ScheduleKind.OneFOneB, p, m)).Message);

    [Fact]
    public void Simulator_reports_a_deadlocking_order()
    {
        // Stage 0 waits for B0 from stage 1, which first waits for F1 that stage 0 only sends after B0.
        var schedule = PipelineSchedule.FromOps(ScheduleKind.OneFOneB,
        [
            [PipelineOp.F(0), PipelineOp.B(0), PipelineOp.F(1), PipelineOp.B(1)],
            [PipelineOp.F(1), PipelineOp.F(0), PipelineOp.B(0), PipelineOp.B(1)],
        ]);
        var e = Assert.Throws<InvalidOperationException>(() => PipelineSimulator.Simulate(schedule));
        Assert.Equal("pipeline schedule deadlocks: stage 0 at B0, stage 1 at F1", e.Message);
    }

    [Fact]
    public void Custom_schedules_are_validated_and_measured_from_their_ops()
    {
        Assert.Throws<ArgumentException>(() => PipelineSchedule.FromOps(ScheduleKind.GPipe, [[PipelineOp.B(0), PipelineOp.F(0)]]));
        Assert.Throws<ArgumentException>(() => PipelineSchedule.FromOps(ScheduleKind.GPipe, [[PipelineOp.F(0), PipelineOp.F(0)]]));
        Assert.Throws<ArgumentException>(() => PipelineSchedule.FromOps(ScheduleKind.GPipe, [[PipelineOp.F(0), PipelineOp.B(0)], [PipelineOp.F(0)]]));
        Assert.Throws<ArgumentException>(() => PipelineSchedule.FromOps(ScheduleKind.GPipe, [[PipelineOp.F(0), PipelineOp.B(0)], []]));
        Assert.Throws<ArgumentException>(() => PipelineSchedule.FromOps(ScheduleKind.GPipe, [[PipelineOp.F(0), PipelineOp.B(1)]]));
        var custom = PipelineSchedule.FromOps(ScheduleKind.GPipe, [[PipelineOp.F(0), PipelineOp.B(0), PipelineOp.F(1), PipelineOp.B(1)]]);
        Assert.Equal(1, custom.InFlightBound(0));
    }

    [Fact]
    public void Negative_costs_are_rejected()
    {
        var schedule = PipelineSchedule.Create(ScheduleKind.GPipe, 2, 2);
        Assert.Throws<ArgumentException>(() => PipelineSimulator.Simulate(schedule, (_, _) => -1));
        Assert.Throws<ArgumentException>(() => PipelineSimulator.Simulate(schedule, [1.0], [1.0, 1.0]));
    }
}
