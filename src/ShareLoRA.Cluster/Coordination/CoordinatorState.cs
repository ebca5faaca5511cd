using MessagePack;
using ShareLoRA.Cluster.Persistence;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// The coordinator's own durable state, rebuilt from <see cref="CoordinatorJournal"/> on start: how many jobs were
/// ever accepted (so job ids stay unique across restarts), the job that is running or was interrupted, and the last
/// job that ended. Plain and immutable: <see cref="Admit"/> checks an event against the state and <see cref="Apply"/>
/// folds it in. It is also the journal's snapshot and its reply to <see cref="CoordinatorJournalProtocol.GetCoordinatorState"/>.
/// </summary>
[MessagePackObject]
public sealed record CoordinatorState(
    [property: Key(0)] long JobCounter,
    [property: Key(1)] ActiveJobState? ActiveJob,
    [property: Key(2)] EndedJobState? LastEnded) : IPersistedRecord
{
    /// <summary>A fresh database: no job ever accepted.</summary>
    public static readonly CoordinatorState Empty = new(0, null, null);

    /// <summary>
    /// Whether <paramref name="e"/> changes the state: true when it must be persisted, false when it is already recorded
    /// (the same job accepted again, the same checkpoint, the same end: a retried command is acknowledged without a
    /// second row). Throws <see cref="InvalidOperationException"/> when it contradicts the state (a second job while one
    /// is active, a checkpoint or end of a job that is not the active one) and <see cref="ArgumentException"/> for an
    /// empty id, name, path or state or a negative step.
    /// </summary>
    public bool Admit(CoordinatorJournalEvents.IEvent e)
    {
        Require(e.JobId, "JobId");
        switch (e)
        {
            case CoordinatorJournalEvents.JobAccepted a:
                Require(a.JobName, "JobName");
                Require(a.JobJson, "JobJson");
                Require(a.Output, "Output");
                if (ActiveJob == null) return true;
                if (ActiveJob.JobId == a.JobId && ActiveJob.JobJson == a.JobJson && ActiveJob.Output == a.Output) return false;
                throw new InvalidOperationException(
                    $"cannot accept job {a.JobId}: job {ActiveJob.JobId} (output {ActiveJob.Output}) is still active; record its end first");
            case CoordinatorJournalEvents.CheckpointCommitted c:
                Require(c.Directory, "Directory");
                if (c.Step < 0) throw new ArgumentException($"checkpoint step must be >= 0 (got {c.Step})");
                RequireActive(c.JobId, $"record checkpoint step {c.Step}");
                return !(ActiveJob!.LastCheckpointStep == c.Step && ActiveJob.LastCheckpointDirectory == c.Directory);
            case CoordinatorJournalEvents.JobEnded end:
                Require(end.State, "State");
                if (ActiveJob == null && LastEnded?.JobId == end.JobId && LastEnded.State == end.State) return false;
                RequireActive(end.JobId, $"record the end ({end.State}) of job {end.JobId}");
                return true;
            default:
                throw new ArgumentException($"unknown coordinator event {e.GetType().Name}");
        }
    }

    /// <summary>The state after <paramref name="e"/>. Trusts its input (it replays what <see cref="Admit"/> let in);
    /// an event that does not fit, e.g. from a hand-edited database, throws <see cref="InvalidOperationException"/>.</summary>
    public CoordinatorState Apply(CoordinatorJournalEvents.IEvent e) => e switch
    {
        CoordinatorJournalEvents.JobAccepted a => this with
        {
            JobCounter = JobCounter + 1,
            ActiveJob = new ActiveJobState(a.JobId, a.JobName, a.JobJson, a.Output, null, null),
        },
        CoordinatorJournalEvents.CheckpointCommitted c when ActiveJob?.JobId == c.JobId => this with
        {
            ActiveJob = ActiveJob with { LastCheckpointStep = c.Step, LastCheckpointDirectory = c.Directory },
        },
        CoordinatorJournalEvents.JobEnded end when ActiveJob?.JobId == end.JobId => new CoordinatorState(JobCounter, null,
            new EndedJobState(ActiveJob.JobId, ActiveJob.JobName, ActiveJob.JobJson, ActiveJob.Output, end.State, end.Message,
                ActiveJob.LastCheckpointStep, ActiveJob.LastCheckpointDirectory)),
        CoordinatorJournalEvents.JobEnded end when ActiveJob == null && LastEnded?.JobId == end.JobId => this,
        _ => throw new InvalidOperationException(
            $"coordinator journal event {e.GetType().Name} for job {e.JobId} does not follow the state (active job: {ActiveJob?.JobId ?? "none"})"),
    };

    private void RequireActive(string jobId, string what)
    {
        if (ActiveJob?.JobId != jobId)
            throw new InvalidOperationException(
                $"cannot {what}: job {jobId} is not the active job (active: {ActiveJob?.JobId ?? "none"})");
    }

    private static void Require(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"coordinator journal: {field} must not be empty");
    }
}

/// <summary>The job that is running, or was running when the coordinator stopped: what is needed to resume it from
/// <see cref="Output"/>'s newest valid checkpoint. LastCheckpoint* are null until its first checkpoint is committed.</summary>
[MessagePackObject]
public sealed record ActiveJobState(
    [property: Key(0)] string JobId,
    [property: Key(1)] string JobName,
    [property: Key(2)] string JobJson,
    [property: Key(3)] string Output,
    [property: Key(4)] int? LastCheckpointStep,
    [property: Key(5)] string? LastCheckpointDirectory);

/// <summary>The last job that ended, with its final <see cref="State"/> and message and its last committed checkpoint.</summary>
[MessagePackObject]
public sealed record EndedJobState(
    [property: Key(0)] string JobId,
    [property: Key(1)] string JobName,
    [property: Key(2)] string JobJson,
    [property: Key(3)] string Output,
    [property: Key(4)] string State,
    [property: Key(5)] string Message,
    [property: Key(6)] int? LastCheckpointStep,
    [property: Key(7)] string? LastCheckpointDirectory);
