using ShareLoRA.Training.Planning;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// The partition a checkpoint was written under: how many stages, how many layers each held, and the schedule. Adapter
/// and optimizer tensors are stored by global name, so a resume may use another partition; this records the old one so
/// a listing or a resumed run can tell.
/// </summary>
/// <param name="Stages">Pipeline stage count p (1 = single process).</param>
/// <param name="LayersPerStage">Decoder layers per stage, in stage order; Stages values.</param>
/// <param name="Schedule">"1f1b" or "gpipe", as in the job file.</param>
/// <param name="MicroBatches">Micro-batches per optimizer step.</param>
public sealed record CheckpointPlan(int Stages, IReadOnlyList<int> LayersPerStage, string Schedule, int MicroBatches)
{
    /// <summary>The recorded part of a planner's result.</summary>
    public static CheckpointPlan From(PartitionPlan plan) =>
        new(plan.Schedule.Stages, plan.LayerCounts.ToArray(), ScheduleName(plan.Schedule.Kind), plan.Schedule.MicroBatches);

    /// <summary>One stage holding every layer.</summary>
    public static CheckpointPlan SingleStage(int layers, string schedule, int microBatches) =>
        new(1, [layers], schedule, microBatches);

    /// <summary>The job-file spelling of a schedule kind.</summary>
    public static string ScheduleName(ScheduleKind kind) => kind switch
    {
        ScheduleKind.OneFOneB => "1f1b",
        ScheduleKind.GPipe => "gpipe",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown schedule kind"),
    };

    /// <summary>Null when consistent, otherwise what is wrong (for save-time and load-time checks).</summary>
    internal string? Problem() =>
        Stages < 1 ? $"stages must be >= 1 (got {Stages})"
        : LayersPerStage.Count != Stages ? $"layers_per_stage must have {Stages} values (got {LayersPerStage.Count})"
        : LayersPerStage.Any(n => n < 0) ? $"layers_per_stage must hold non-negative counts (got [{string.Join(", ", LayersPerStage)}])"
        : string.IsNullOrEmpty(Schedule) ? "schedule must not be empty"
        : MicroBatches < 1 ? $"micro_batches must be >= 1 (got {MicroBatches})"
        : null;
}
