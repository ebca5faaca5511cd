using Akka.Actor;
using Akka.Serialization;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// Akka serializer for every <see cref="IClusterMessage"/>: MessagePack with a stable string manifest per type
/// (<see cref="WireMessageTypes"/>). Tensor bytes travel as one MessagePack bin field, so a 16 MiB payload costs a
/// few bytes of framing rather than base64 text.
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
        _options = MessagePackSerializerOptions.Standard.WithResolver(resolver);
    }

    public override int Identifier => Id;

    /// <summary>The MessagePack options (resolver with actor-ref support) this serializer uses.</summary>
    internal MessagePackSerializerOptions Options => _options;

    public override string Manifest(object o) => WireMessageTypes.ManifestOf(o.GetType());

    public override byte[] ToBinary(object obj) => MessagePackSerializer.Serialize(obj.GetType(), obj, _options);

    public override object FromBinary(byte[] bytes, string manifest) =>
        MessagePackSerializer.Deserialize(WireMessageTypes.TypeOf(manifest), bytes, _options)!;
}
