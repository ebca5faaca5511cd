using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Persistence;

/// <summary>
/// The registry of persisted types and their manifests. The manifest is stored in every journal and snapshot row, so
/// these names are a file format: never rename or reuse one. A type that changes incompatibly gets a new manifest
/// (".v2") and the old one stays readable. Adding a MessagePack key to a record is compatible (old rows read as null).
/// </summary>
public static class PersistedRecordTypes
{
    private static readonly (string Manifest, Type Type)[] Entries =
    [
        ("coordinator.job-accepted.v1", typeof(CoordinatorJournalEvents.JobAccepted)),
        ("coordinator.checkpoint-committed.v1", typeof(CoordinatorJournalEvents.CheckpointCommitted)),
        ("coordinator.job-ended.v1", typeof(CoordinatorJournalEvents.JobEnded)),
        ("coordinator.state.v1", typeof(CoordinatorState)),
    ];

    private static readonly ManifestTable Table = new(Entries,
        type => $"{type.FullName} implements IPersistedRecord but is not registered in PersistedRecordTypes; add it there",
        manifest => $"unknown persisted record manifest '{manifest}': the database was written by a build with record types this one lacks");

    /// <summary>Every registered persisted type with its manifest.</summary>
    public static IReadOnlyList<(string Manifest, Type Type)> All => Table.All;

    public static string ManifestOf(Type type) => Table.ManifestOf(type);

    public static Type TypeOf(string manifest) => Table.TypeOf(manifest);
}
