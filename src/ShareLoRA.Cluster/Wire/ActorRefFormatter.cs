using Akka.Actor;
using MessagePack;
using MessagePack.Formatters;

namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// Writes an <see cref="IActorRef"/> as its serialized path (with the node's address) and resolves it on the receiving
/// node, so protocol records can carry actor references (e.g. "your next stage is X").
/// </summary>
internal sealed class ActorRefFormatter(ExtendedActorSystem system) : IMessagePackFormatter<IActorRef?>
{
    public void Serialize(ref MessagePackWriter writer, IActorRef? value, MessagePackSerializerOptions options)
    {
        if (value is null || value.IsNobody()) writer.WriteNil();
        else writer.Write(Akka.Serialization.Serialization.SerializedActorPath(value));
    }

    public IActorRef? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil()) return null;
        var path = reader.ReadString()!;
        return system.Provider.ResolveActorRef(path);
    }
}
