using Akka.Actor;
using Akka.Serialization;
using MessagePack;
using MessagePack.Resolvers;
using SerializationException = System.Runtime.Serialization.SerializationException;

namespace ShareLoRA.Cluster.Persistence;

/// <summary>
/// Akka serializer for every <see cref="IPersistedRecord"/> (journal events and snapshots): MessagePack with a stable
/// string manifest per type (<see cref="PersistedRecordTypes"/>). Kept apart from the wire serializer because rows
/// outlive builds: its id and manifests are part of the database format, while wire messages only need to agree
/// between the nodes of one running cluster. A row that does not decode becomes a <see cref="SerializationException"/>
/// naming the manifest, which fails recovery with that message.
/// </summary>
public sealed class MessagePackPersistenceSerializer : SerializerWithStringManifest
{
    /// <summary>Serializer id stored in every row; ids up to 100 are reserved by Akka, 417 is the wire serializer.</summary>
    public const int Id = 418;

    // A database file can be damaged or edited by hand: decode it with the same limits as network input.
    private static readonly MessagePackSerializerOptions Options =
        MessagePackSerializerOptions.Standard.WithResolver(StandardResolver.Instance).WithSecurity(MessagePackSecurity.UntrustedData);

    public MessagePackPersistenceSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => Id;

    public override string Manifest(object o) => PersistedRecordTypes.ManifestOf(o.GetType());

    public override byte[] ToBinary(object obj) => MessagePackSerializer.Serialize(obj.GetType(), obj, Options);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var type = PersistedRecordTypes.TypeOf(manifest);
        try
        {
            return MessagePackSerializer.Deserialize(type, bytes, Options)
                   ?? throw new SerializationException($"persisted record '{manifest}' ({bytes.Length} bytes) decodes to nil");
        }
        catch (MessagePackSerializationException e)
        {
            var inner = e.InnerException ?? e;
            while (inner.InnerException != null) inner = inner.InnerException;
            throw new SerializationException($"persisted record '{manifest}' ({bytes.Length} bytes) is malformed or truncated: {inner.Message}", e);
        }
    }
}
