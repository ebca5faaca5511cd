using System.Globalization;
using System.Text;

namespace ShareLoRA.Training.Planning;

/// <summary>When one op ran on its stage in a simulated step.</summary>
public readonly record struct TimedOp(PipelineOp Op, double Start, double End);

/// <summary>
/// The timing of one simulated optimizer step: per-stage timelines, makespan, idle time and bubble fraction
/// (total idle stage-time over p x makespan).
/// </summary>
public sealed class PipelineSimulation
{
    internal PipelineSimulation(PipelineSchedule schedule, IReadOnlyList<IReadOnlyList<TimedOp>> timeline)
    {
        Schedule = schedule;
        Timeline = timeline;
        Makespan = timeline.Max(ops => ops.Count == 0 ? 0 : ops[^1].End);
        IdleTime = timeline.Select(ops => Makespan - ops.Sum(o => o.End - o.Start)).ToArray();
        BubbleFraction = Makespan == 0 ? 0 : IdleTime.Sum() / (schedule.Stages * Makespan);
    }

    public PipelineSchedule Schedule { get; }

    /// <summary>Per stage, its ops with start and end times, in execution order.</summary>
    public IReadOnlyList<IReadOnlyList<TimedOp>> Timeline { get; }

    /// <summary>Time from the first op's start to the last op's end (the step's flush).</summary>
    public double Makespan { get; }

    /// <summary>Per stage, makespan minus its busy time.</summary>
    public IReadOnlyList<double> IdleTime { get; }

    /// <summary>Sum of idle time over p x makespan; (p - 1) / (m + p - 1) for equal op costs.</summary>
    public double BubbleFraction { get; }

    /// <summary>
    /// A text Gantt chart, one row per stage, one 3-character cell per time unit ("F0 ", "B12", "." for idle);
    /// ops are placed by their start time rounded to whole units, so it is exact for integer costs.
    /// </summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture,
            $"makespan {Makespan:0.###}, bubble {BubbleFraction:0.####}, idle per stage [{string.Join(", ", IdleTime.Select(t => t.ToString("0.###", CultureInfo.InvariantCulture)))}]");
        int units = (int)Math.Ceiling(Makespan);
        for (int s = 0; s < Timeline.Count; s++)
        {
            var cells = Enumerable.Repeat(" . ", units).ToArray();
            foreach (var t in Timeline[s])
            {
                int a = (int)Math.Round(t.Start), b = Math.Max(a + 1, (int)Math.Round(t.End));
                for (int u = a; u < b && u < units; u++) cells[u] = u == a ? t.Op.ToString().PadRight(3)[..3] : "---";
            }
            sb.AppendLine().Append($"stage {s} |").Append(string.Concat(cells)).Append('|');
        }
        return sb.ToString();
    }
}
