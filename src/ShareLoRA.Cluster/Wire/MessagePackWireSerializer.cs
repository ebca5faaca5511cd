using Akka.Actor;
using Akka.Serialization;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;
using SerializationException = System.Runtime.Serialization.SerializationException;

namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// Akka serializer for every <see cref="IClusterMessage"/>: MessagePack with a stable string manifest per type
/// (<see cref="WireMessageTypes"/>). Tensor bytes travel as one MessagePack bin field, so a 16 MiB payload costs a
/// few bytes of framing rather than base64 text. Input from the network is untrusted: only registered manifests are
/// deserialized (no type names on the wire), MessagePack runs with its untrusted-data security settings (depth limit,
/// collision-resistant hashing), and a malformed payload becomes a <see cref="SerializationException"/> naming the
/// manifest, which Akka logs and drops without affecting the node.
/// </summary>
public sealed class MessagePackWireSerializer : SerializerWithStringManifest
{
    /// <summary>Serializer id; ids up to 100 are reserved by Akka.</summary>
    public const int Id = 417;

    private readonly MessagePackSerializerOptions _options;

    public MessagePackWireSerializer(ExtendedActorSystem system) : base(system)
    {
        var resolver = CompositeResolver.Create(
            new IMessagePackFormatter[] { new ActorRefFormatter(system) },
            new IFormatterResolver[] { StandardResolver.Instance });
        _options = MessagePackSerializerOptions.Standard.WithResolver(resolver).WithSecurity(MessagePackSecurity.UntrustedData);
    }

    public override int Identifier => Id;

    /// <summary>The MessagePack options (resolver with actor-ref support) this serializer uses.</summary>
    internal MessagePackSerializerOptions Options => _options;

    public override string Manifest(object o) => WireMessageTypes.ManifestOf(o.GetType());

    public override byte[] ToBinary(object obj) => MessagePackSerializer.Serialize(obj.GetType(), obj, _options);

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var type = WireMessageTypes.TypeOf(manifest); // SerializationException for an unregistered manifest
        try
        {
            return MessagePackSerializer.Deserialize(type, bytes, _options)
                   ?? throw new SerializationException($"wire message '{manifest}' ({bytes.Length} bytes) decodes to nil");
        }
        catch (MessagePackSerializationException e)
        {
            throw new SerializationException(
                $"wire message '{manifest}' ({bytes.Length} bytes) is malformed or truncated: {Innermost(e).Message}", e);
        }
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException != null) e = e.InnerException;
        return e;
    }
}
