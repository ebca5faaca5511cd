using Akka.Actor;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>What the coordinator does after losing a worker, given who is still alive.</summary>
public enum RecoveryAction
{
    /// <summary>Enough live workers for the job's stage count: a spare takes the lost stage (bitwise continuation).</summary>
    SameStages,

    /// <summary>Fewer live workers than the job's stages: re-plan over one stage per live worker (within float tolerance).</summary>
    Replan,

    /// <summary>No live worker: wait until one joins.</summary>
    WaitForWorkers,

    /// <summary>Too many recoveries for one job: fail it.</summary>
    GiveUp,
}

/// <summary>
/// A recovery decision: the action, the stage count and the workers to place stage 0..n-1 on (in order), the workers
/// of the previous attempt found dead, and a one-line message for the status and the log.
/// </summary>
public sealed record RecoveryDecision(RecoveryAction Action, int Stages, IReadOnlyList<Address> Workers, IReadOnlyList<Address> Lost, string Message);

/// <summary>
/// The recovery policy, free of actors so it is tested directly: one stage per live worker up to the job's stage
/// count (the stage count the job was submitted with, so a run that shrank grows back when spares are there), at most
/// <see cref="DefaultMaxRecoveries"/> recoveries per job.
/// </summary>
public static class RecoveryPlanner
{
    public const int DefaultMaxRecoveries = 5;

    /// <param name="jobStages">pipeline.stages of the submitted job.</param>
    /// <param name="previous">The workers of the attempt that failed, by stage index.</param>
    /// <param name="alive">Workers that answered the liveness probe (any order).</param>
    /// <param name="recoveriesDone">Recoveries already made for this job, this one excluded.</param>
    /// <param name="maxRecoveries">Bound on recoveries per job.</param>
    public static RecoveryDecision Decide(int jobStages, IReadOnlyList<Address> previous, IEnumerable<Address> alive, int recoveriesDone,
        int maxRecoveries = DefaultMaxRecoveries)
    {
        if (jobStages < 1) throw new ArgumentOutOfRangeException(nameof(jobStages), jobStages, "a job has at least one stage");
        var live = alive.Distinct().ToList();
        var lost = previous.Where(w => !live.Contains(w)).Distinct().ToList();
        if (recoveriesDone >= maxRecoveries)
            return new RecoveryDecision(RecoveryAction.GiveUp, 0, [], lost,
                $"gave up after {recoveriesDone} recoveries (the bound per job is {maxRecoveries})");
        // Survivors of the previous attempt first, in their old order, then the others by address: deterministic, and
        // a survivor keeps its place when the plan is unchanged.
        var ordered = previous.Where(live.Contains).Distinct()
            .Concat(live.Where(w => !previous.Contains(w)).OrderBy(w => w.ToString(), StringComparer.Ordinal))
            .ToList();
        if (ordered.Count == 0)
            return new RecoveryDecision(RecoveryAction.WaitForWorkers, 0, [], lost, $"waiting for a worker: none of the {previous.Count} alive");
        int stages = Math.Min(jobStages, ordered.Count);
        var workers = ordered.Take(stages).ToList();
        return stages == jobStages
            ? new RecoveryDecision(RecoveryAction.SameStages, stages, workers, lost, $"continuing on {stages} stage(s) with {live.Count} live worker(s)")
            : new RecoveryDecision(RecoveryAction.Replan, stages, workers, lost,
                $"only {live.Count} live worker(s) for {jobStages} stage(s): re-planning over {stages}");
    }
}
