using System.Runtime.Serialization;

namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// A two-way table of stable manifest names and types, for serializers whose manifests are a format (the wire's
/// message types, the journal's persisted records). Duplicate names or types fail at start-up.
/// </summary>
internal sealed class ManifestTable
{
    private readonly Dictionary<string, Type> _byManifest;
    private readonly Dictionary<Type, string> _byType;
    private readonly Func<Type, string> _unregistered;
    private readonly Func<string, string> _unknown;

    /// <param name="entries">Every manifest with its type.</param>
    /// <param name="unregistered">The error for a type of the family that is not in the table.</param>
    /// <param name="unknown">The error for a manifest this build does not know.</param>
    public ManifestTable((string Manifest, Type Type)[] entries, Func<Type, string> unregistered, Func<string, string> unknown)
    {
        All = entries;
        _byManifest = entries.ToDictionary(e => e.Manifest, e => e.Type);
        _byType = entries.ToDictionary(e => e.Type, e => e.Manifest);
        _unregistered = unregistered;
        _unknown = unknown;
    }

    public IReadOnlyList<(string Manifest, Type Type)> All { get; }

    public string ManifestOf(Type type) =>
        _byType.TryGetValue(type, out var manifest) ? manifest : throw new InvalidOperationException(_unregistered(type));

    public Type TypeOf(string manifest) =>
        _byManifest.TryGetValue(manifest, out var type) ? type : throw new SerializationException(_unknown(manifest));
}
