using MessagePack;
using ShareLoRA.Cluster.Persistence;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// The events <see cref="CoordinatorJournal"/> persists; <see cref="CoordinatorState.Apply"/> folds them into the
/// coordinator's state. They are a file format (rows in the journal table): add keys, never renumber or remove them.
/// </summary>
public static class CoordinatorJournalEvents
{
    /// <summary>One event of the coordinator's journal.</summary>
    public interface IEvent : IPersistedRecord
    {
        string JobId { get; }
    }

    /// <summary>A job was accepted: it becomes the active job. <paramref name="JobJson"/> is the full job
    /// (<c>JobConfig.ToJson()</c>), <paramref name="Output"/> its run folder (where its checkpoints are).</summary>
    [MessagePackObject]
    public sealed record JobAccepted(
        [property: Key(0)] string JobId,
        [property: Key(1)] string JobName,
        [property: Key(2)] string JobJson,
        [property: Key(3)] string Output) : IEvent;

    /// <summary>The active job's checkpoint of <paramref name="Step"/> was committed (renamed into place) at
    /// <paramref name="Directory"/>.</summary>
    [MessagePackObject]
    public sealed record CheckpointCommitted(
        [property: Key(0)] string JobId,
        [property: Key(1)] int Step,
        [property: Key(2)] string Directory) : IEvent;

    /// <summary>The active job ended (<paramref name="State"/>: <see cref="JobStatus.Completed"/>,
    /// <see cref="JobStatus.Failed"/>, or another final state), with a one-line message.</summary>
    [MessagePackObject]
    public sealed record JobEnded(
        [property: Key(0)] string JobId,
        [property: Key(1)] string State,
        [property: Key(2)] string Message) : IEvent;
}
