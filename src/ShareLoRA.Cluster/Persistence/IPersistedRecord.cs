namespace ShareLoRA.Cluster.Persistence;

/// <summary>
/// Marker of every type written to the Akka.Persistence journal or snapshot store (events and snapshots).
/// cluster-config/persistence.hocon binds it to <see cref="MessagePackPersistenceSerializer"/>, so no persisted type
/// falls back to Newtonsoft JSON; each implementing type must also be listed in <see cref="PersistedRecordTypes"/>.
/// </summary>
public interface IPersistedRecord;
