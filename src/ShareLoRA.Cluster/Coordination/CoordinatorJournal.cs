using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using ShareLoRA.Cluster.Persistence;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// The coordinator's durable memory: a persistent actor (one fixed <see cref="PersistenceIdValue"/> per cluster) that
/// records which job is active, its last committed checkpoint and the job counter as events in the SQL journal
/// (cluster-config/persistence.hocon), and answers <see cref="CoordinatorJournalProtocol.GetCoordinatorState"/> once it
/// has recovered them. Every Record* command is acknowledged only after its event is written, so the coordinator can
/// call a checkpoint committed knowing the database says so. Every <c>snapshot-every</c> events it saves the state as a
/// snapshot and deletes the events and snapshots before it, so the database stays a few rows long.
/// Create it as a child of the coordinator (one writer per persistence id: the singleton guarantees that).
/// </summary>
public sealed class CoordinatorJournal : ReceivePersistentActor
{
    /// <summary>Suggested child name.</summary>
    public const string Name = "journal";

    /// <summary>The one persistence id of a cluster's coordinator: any node that hosts the singleton reads the same rows.</summary>
    public const string PersistenceIdValue = "sharelora-coordinator";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly int _snapshotEvery;
    private long _newestSnapshot;
    private readonly string _database;
    private CoordinatorState _state = CoordinatorState.Empty;
    private IActorRef? _awaitingWrite;

    /// <summary>Props; <paramref name="snapshotEvery"/> null reads <c>sharelora.persistence.snapshot-every</c> (default 20).</summary>
    public static Props Props(int? snapshotEvery = null) => Akka.Actor.Props.Create(() => new CoordinatorJournal(snapshotEvery));

    public CoordinatorJournal(int? snapshotEvery)
    {
        var config = Context.System.Settings.Config;
        _snapshotEvery = snapshotEvery ?? config.GetInt("sharelora.persistence.snapshot-every", 20);
        if (_snapshotEvery < 1) throw new ArgumentException($"sharelora.persistence.snapshot-every must be >= 1 (got {_snapshotEvery})");
        _database = PersistenceDatabase.FromConfig(config)?.Description ?? $"journal {config.GetString("akka.persistence.journal.plugin", "")}";

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is CoordinatorState state) _state = state;
            else throw new InvalidOperationException($"coordinator snapshot in {_database} is a {offer.Snapshot?.GetType().Name}, not a CoordinatorState");
        });
        Recover<CoordinatorJournalEvents.IEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ => _log.Info(
            "coordinator journal recovered from {0} at sequence number {1}: {2} job(s) accepted, active job {3}",
            _database, LastSequenceNr, _state.JobCounter, Describe(_state.ActiveJob)));

        Command<CoordinatorJournalProtocol.GetCoordinatorState>(_ => Sender.Tell(_state));
        Command<CoordinatorJournalProtocol.RecordJobAccepted>(c =>
            Record(new CoordinatorJournalEvents.JobAccepted(c.JobId, c.JobName, c.JobJson, c.Output)));
        Command<CoordinatorJournalProtocol.RecordCheckpoint>(c =>
            Record(new CoordinatorJournalEvents.CheckpointCommitted(c.JobId, c.Step, c.Directory)));
        Command<CoordinatorJournalProtocol.RecordJobEnded>(c =>
            Record(new CoordinatorJournalEvents.JobEnded(c.JobId, c.State, c.Message)));

        Command<SaveSnapshotSuccess>(s =>
        {
            // The snapshot holds everything up to its sequence number: older events and snapshots are dead weight.
            // The journal keeps its highest row (marked deleted) so sequence numbers never restart.
            // Snapshot writes may finish out of order: an older one landing after a newer one's clean-up is removed
            // by its own success, which cleans up below the newest snapshot so far, not below itself.
            _newestSnapshot = Math.Max(_newestSnapshot, s.Metadata.SequenceNr);
            DeleteMessages(_newestSnapshot);
            DeleteSnapshots(new SnapshotSelectionCriteria(_newestSnapshot - 1));
        });
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause,
            "coordinator journal: snapshot at sequence number {0} in {1} failed; the events stay and recovery replays them",
            f.Metadata.SequenceNr, _database));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(f => _log.Warning(f.Cause,
            "coordinator journal: deleting events up to {0} in {1} failed; they stay (harmless, retried at the next snapshot)", f.ToSequenceNr, _database));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause,
            "coordinator journal: deleting old snapshots in {0} failed; they stay (harmless, retried at the next snapshot)", _database));
    }

    public override string PersistenceId => PersistenceIdValue;

    private void Record(CoordinatorJournalEvents.IEvent e)
    {
        bool fresh;
        try
        {
            fresh = _state.Admit(e);
        }
        catch (Exception rejected) when (rejected is InvalidOperationException or ArgumentException)
        {
            Sender.Tell(new Akka.Actor.Status.Failure(rejected));
            return;
        }
        if (!fresh)
        {
            Sender.Tell(new CoordinatorJournalProtocol.Recorded(_state));
            return;
        }
        _awaitingWrite = Sender;
        // Persist stashes every other command until this handler ran: one write in flight, replies in order.
        Persist(e, written =>
        {
            _awaitingWrite = null;
            _state = _state.Apply(written);
            Sender.Tell(new CoordinatorJournalProtocol.Recorded(_state));
            if (LastSequenceNr % _snapshotEvery == 0) SaveSnapshot(_state);
        });
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Error(reason, "coordinator journal: cannot recover the coordinator's state from {0}: {1}", _database, reason.Message);
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        // Akka stops this actor after a failed write (the journal's state is unknown); the waiting sender learns why.
        _awaitingWrite?.Tell(new Akka.Actor.Status.Failure(new PersistenceDatabaseException(
            $"coordinator journal: writing {@event.GetType().Name} to {_database} failed: {cause.Message}", cause)));
        _awaitingWrite = null;
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // Rejected before writing (e.g. serialization): the actor goes on, the state is unchanged.
        _awaitingWrite?.Tell(new Akka.Actor.Status.Failure(new PersistenceDatabaseException(
            $"coordinator journal: {_database} rejected {@event.GetType().Name}: {cause.Message}", cause)));
        _awaitingWrite = null;
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    private static string Describe(ActiveJobState? job) =>
        job == null ? "none" : $"{job.JobId} (output {job.Output}, last checkpoint {job.LastCheckpointStep?.ToString() ?? "none"})";
}
