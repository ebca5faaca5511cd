namespace ShareLoRA.Training.Planning;

/// <summary>
/// Times a <see cref="PipelineSchedule"/>: each stage runs its ops in order, one at a time, and an op starts when its
/// stage is free and its inputs exist. F(mb) on stage i needs F(mb) on stage i - 1; B(mb) on stage i needs B(mb) on
/// stage i + 1 and F(mb) on stage i. Transfers are instantaneous (a cost function can fold them into op costs).
/// </summary>
public static class PipelineSimulator
{
    /// <summary>Simulates with every forward and backward taking one time unit.</summary>
    public static PipelineSimulation Simulate(PipelineSchedule schedule) => Simulate(schedule, (_, _) => 1.0);

    /// <summary>Simulates with per-stage forward and backward costs (arrays of length p).</summary>
    public static PipelineSimulation Simulate(PipelineSchedule schedule, IReadOnlyList<double> forwardCost, IReadOnlyList<double> backwardCost)
    {
        if (forwardCost.Count != schedule.Stages || backwardCost.Count != schedule.Stages)
            throw new ArgumentException($"pipeline simulation needs {schedule.Stages} forward and backward costs (got {forwardCost.Count} and {backwardCost.Count})");
        return Simulate(schedule, (stage, op) => op.Kind == PipelineOpKind.Forward ? forwardCost[stage] : backwardCost[stage]);
    }

    /// <summary>Simulates with a cost per (stage, op); costs must be >= 0.</summary>
    /// <exception cref="InvalidOperationException">The schedule deadlocks (an op waits on one that can never run).</exception>
    public static PipelineSimulation Simulate(PipelineSchedule schedule, Func<int, PipelineOp, double> cost)
    {
        int p = schedule.Stages, m = schedule.MicroBatches;
        // End times of finished ops, NaN while not run.
        var fEnd = NewGrid(p, m);
        var bEnd = NewGrid(p, m);
        var next = new int[p];
        var free = new double[p];
        var timeline = Enumerable.Range(0, p).Select(_ => new List<TimedOp>()).ToArray();
        int remaining = schedule.OpsByStage.Sum(o => o.Count);

        // Each op's start time depends only on its stage's previous op and its data dependencies, so running any ready
        // op in any order yields the same times; sweep stages until everything ran or nothing can.
        while (remaining > 0)
        {
            bool progressed = false;
            for (int s = 0; s < p; s++)
            {
                while (next[s] < schedule.OpsByStage[s].Count)
                {
                    var op = schedule.OpsByStage[s][next[s]];
                    double? ready = ReadyTime(op, s);
                    if (ready is null) break;
                    double c = cost(s, op);
                    if (c < 0 || double.IsNaN(c)) throw new ArgumentException($"pipeline op cost must be >= 0 (stage {s}, {op}: {c})");
                    double start = Math.Max(free[s], ready.Value), end = start + c;
                    (op.Kind == PipelineOpKind.Forward ? fEnd : bEnd)[s][op.MicroBatch] = end;
                    free[s] = end;
                    timeline[s].Add(new TimedOp(op, start, end));
                    next[s]++;
                    remaining--;
                    progressed = true;
                }
            }
            if (!progressed)
            {
                var stuck = Enumerable.Range(0, p).Where(s => next[s] < schedule.OpsByStage[s].Count)
                    .Select(s => $"stage {s} at {schedule.OpsByStage[s][next[s]]}");
                throw new InvalidOperationException("pipeline schedule deadlocks: " + string.Join(", ", stuck));
            }
        }
        return new PipelineSimulation(schedule, timeline);

        double? ReadyTime(PipelineOp op, int s)
        {
            if (op.Kind == PipelineOpKind.Forward)
            {
                if (s == 0) return 0;
                var t = fEnd[s - 1][op.MicroBatch];
                return double.IsNaN(t) ? null : t;
            }
            var own = fEnd[s][op.MicroBatch];
            if (double.IsNaN(own)) return null;
            if (s == p - 1) return own;
            var down = bEnd[s + 1][op.MicroBatch];
            return double.IsNaN(down) ? null : Math.Max(own, down);
        }
    }

    private static double[][] NewGrid(int p, int m) =>
        Enumerable.Range(0, p).Select(_ => Enumerable.Repeat(double.NaN, m).ToArray()).ToArray();
}
