using System.Text;

namespace ShareLoRA.Training.Planning;

/// <summary>
/// The order in which each pipeline stage runs the forward and backward passes of the micro-batches of one optimizer
/// step: data that stage actors execute, tests print and <see cref="PipelineSimulator"/> times. Both kinds end with a
/// flush (all backwards done) so the shared matrices can be synchronised before the next step.
/// </summary>
public sealed class PipelineSchedule
{
    private PipelineSchedule(ScheduleKind kind, int stages, int microBatches, IReadOnlyList<IReadOnlyList<PipelineOp>> ops)
    {
        Kind = kind;
        Stages = stages;
        MicroBatches = microBatches;
        OpsByStage = ops;
    }

    public ScheduleKind Kind { get; }

    /// <summary>Number of pipeline stages p.</summary>
    public int Stages { get; }

    /// <summary>Micro-batches m per optimizer step.</summary>
    public int MicroBatches { get; }

    /// <summary>For each stage (0 = first), its ops in execution order; each F(mb) and B(mb) appears exactly once.</summary>
    public IReadOnlyList<IReadOnlyList<PipelineOp>> OpsByStage { get; }

    /// <summary>The ops of one stage in execution order.</summary>
    public IReadOnlyList<PipelineOp> For(int stage) => OpsByStage[stage];

    /// <summary>
    /// Most micro-batches forwarded but not yet backwarded on <paramref name="stage"/> at any time, i.e. how many
    /// micro-batches' activations it must hold, counted from the op list (m for GPipe, min(p - stage, m) for 1F1B).
    /// </summary>
    public int InFlightBound(int stage)
    {
        int inFlight = 0, max = 0;
        foreach (var op in OpsByStage[stage])
        {
            inFlight += op.Kind == PipelineOpKind.Forward ? 1 : -1;
            max = Math.Max(max, inFlight);
        }
        return max;
    }

    /// <summary>The in-flight bound of a built-in schedule without building it: m for GPipe, min(p - stage, m) for 1F1B.</summary>
    public static int InFlightBound(ScheduleKind kind, int stages, int microBatches, int stage) =>
        kind == ScheduleKind.GPipe ? microBatches : Math.Min(stages - stage, microBatches);

    /// <summary>
    /// A schedule from explicit per-stage op lists (for experiments and tests); each stage must run every F(mb) and
    /// B(mb) of the same m micro-batches exactly once, F(mb) before B(mb). <paramref name="kind"/> is only a label.
    /// Whether the order can run without deadlock is for <see cref="PipelineSimulator"/> to find out.
    /// </summary>
    public static PipelineSchedule FromOps(ScheduleKind kind, IReadOnlyList<IReadOnlyList<PipelineOp>> opsByStage)
    {
        if (opsByStage.Count < 1) throw new ArgumentException("pipeline schedule needs at least one stage");
        int m = opsByStage[0].Count / 2;
        if (m < 1) throw new ArgumentException("pipeline schedule: stage 0 runs no micro-batch");
        for (int s = 0; s < opsByStage.Count; s++)
        {
            var ops = opsByStage[s];
            if (ops.Count != 2 * m)
                throw new ArgumentException($"pipeline schedule: stage {s} has {ops.Count} ops; every stage must run F and B of {m} micro-batches");
            var seenF = new bool[m];
            var seenB = new bool[m];
            foreach (var op in ops)
            {
                if (op.MicroBatch < 0 || op.MicroBatch >= m)
                    throw new ArgumentException($"pipeline schedule: stage {s} runs {op}; micro-batches are 0..{m - 1}");
                var seen = op.Kind == PipelineOpKind.Forward ? seenF : seenB;
                if (seen[op.MicroBatch]) throw new ArgumentException($"pipeline schedule: stage {s} runs {op} twice");
                if (op.Kind == PipelineOpKind.Backward && !seenF[op.MicroBatch])
                    throw new ArgumentException($"pipeline schedule: stage {s} runs {op} before F{op.MicroBatch}");
                seen[op.MicroBatch] = true;
            }
        }
        return new PipelineSchedule(kind, opsByStage.Count, m, opsByStage.Select(o => (IReadOnlyList<PipelineOp>)o.ToArray()).ToArray());
    }

    /// <summary>Builds the schedule for p stages and m micro-batches (m &lt; p is allowed).</summary>
    public static PipelineSchedule Create(ScheduleKind kind, int stages, int microBatches)
    {
        if (stages < 1) throw new ArgumentException($"pipeline stages must be >= 1 (got {stages})");
        if (microBatches < 1) throw new ArgumentException($"micro-batches per step must be >= 1 (got {microBatches})");
        var ops = new IReadOnlyList<PipelineOp>[stages];
        for (int s = 0; s < stages; s++)
            ops[s] = kind switch
            {
                ScheduleKind.GPipe => GPipeStage(microBatches),
                ScheduleKind.OneFOneB => OneFOneBStage(stages, microBatches, s),
                _ => throw new ArgumentOutOfRangeException(nameof(kind)),
            };
        return new PipelineSchedule(kind, stages, microBatches, ops);
    }

    private static PipelineOp[] GPipeStage(int m)
    {
        var ops = new PipelineOp[2 * m];
        for (int i = 0; i < m; i++)
        {
            ops[i] = PipelineOp.F(i);
            ops[m + i] = PipelineOp.B(i);
        }
        return ops;
    }

    // 1F1B with flush (PipeDream-Flush / Megatron's non-interleaved schedule): stage s first runs p - s - 1 warm-up
    // forwards so that the backward of micro-batch 0 can arrive from the last stage just as it is needed, then
    // alternates one forward and one backward, then drains the remaining backwards.
    private static PipelineOp[] OneFOneBStage(int p, int m, int s)
    {
        int warmup = Math.Min(p - s - 1, m);
        var ops = new List<PipelineOp>(2 * m);
        int nextF = 0, nextB = 0;
        for (int i = 0; i < warmup; i++) ops.Add(PipelineOp.F(nextF++));
        while (nextF < m)
        {
            ops.Add(PipelineOp.F(nextF++));
            ops.Add(PipelineOp.B(nextB++));
        }
        while (nextB < m) ops.Add(PipelineOp.B(nextB++));
        return [.. ops];
    }

    /// <summary>One line per stage: "stage 0: F0 F1 B0 F2 B1 B2".</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(Kind == ScheduleKind.GPipe ? "GPipe" : "1F1B").Append($" p={Stages} m={MicroBatches}");
        for (int s = 0; s < Stages; s++)
            sb.AppendLine().Append($"stage {s}: ").AppendJoin(' ', OpsByStage[s]);
        return sb.ToString();
    }
}
