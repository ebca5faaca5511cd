namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// Messages of <see cref="CoordinatorJournal"/>. Local only: the journal is a child of the coordinator singleton and
/// lives in its process, so these are plain records (not <c>IClusterMessage</c>). Each Record* command is answered,
/// once its event is durable in the database, by <see cref="Recorded"/>; a command that contradicts the state (e.g.
/// a checkpoint of a job that is not active) or a failed write is answered by <c>Status.Failure</c> with a one-line
/// reason, which makes an Ask throw. A command that is already recorded is acknowledged again without a new row, so
/// retrying after an Ask timeout is safe.
/// </summary>
public static class CoordinatorJournalProtocol
{
    /// <summary>A job was accepted and becomes the active job. Send before the first stage is spawned.</summary>
    public sealed record RecordJobAccepted(string JobId, string JobName, string JobJson, string Output);

    /// <summary>The active job's checkpoint of <paramref name="Step"/> was committed at <paramref name="Directory"/>
    /// (after its atomic rename). Report the checkpoint as committed only once this is acknowledged.</summary>
    public sealed record RecordCheckpoint(string JobId, int Step, string Directory);

    /// <summary>The active job ended: <paramref name="State"/> is <see cref="JobStatus.Completed"/> or
    /// <see cref="JobStatus.Failed"/> (or another final state), <paramref name="Message"/> one line.</summary>
    public sealed record RecordJobEnded(string JobId, string State, string Message);

    /// <summary>Asks for the <see cref="CoordinatorState"/>; answered after recovery from the database.</summary>
    public sealed record GetCoordinatorState
    {
        public static readonly GetCoordinatorState Instance = new();
    }

    /// <summary>The answer to a Record* command: the event is in the database; <paramref name="State"/> is the state
    /// after it.</summary>
    public sealed record Recorded(CoordinatorState State);
}
