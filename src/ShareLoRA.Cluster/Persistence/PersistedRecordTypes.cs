using ShareLoRA.Cluster.Coordination;

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

    private static readonly Dictionary<string, Type> ByManifest = Entries.ToDictionary(e => e.Manifest, e => e.Type);
    private static readonly Dictionary<Type, string> ByType = Entries.ToDictionary(e => e.Type, e => e.Manifest);

    /// <summary>Every registered persisted type with its manifest.</summary>
    public static IReadOnlyList<(string Manifest, Type Type)> All => Entries;

    public static string ManifestOf(Type type) =>
        ByType.TryGetValue(type, out var manifest)
            ? manifest
            : throw new InvalidOperationException(
                $"{type.FullName} implements IPersistedRecord but is not registered in PersistedRecordTypes; add it there");

    public static Type TypeOf(string manifest) =>
        ByManifest.TryGetValue(manifest, out var type)
            ? type
            : throw new System.Runtime.Serialization.SerializationException(
                $"unknown persisted record manifest '{manifest}': the database was written by a build with record types this one lacks");
}
