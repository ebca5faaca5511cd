using MessagePack;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>Actor messages of the data plane: frames of the Akka transport and the TCP address exchange.</summary>
public static class DataPlaneProtocol
{
    /// <summary>One tensor sent over <see cref="AkkaActivationTransport"/>.</summary>
    [MessagePackObject]
    public sealed record ActivationFrame(
        [property: Key(0)] ActivationTag Tag,
        [property: Key(1)] TensorPayload Payload) : IClusterMessage;

    /// <summary>The receiver consumed the frame with this tag: the sender may send one more (flow control).</summary>
    [MessagePackObject]
    public sealed record ActivationAck([property: Key(0)] ActivationTag Tag) : IClusterMessage;

    /// <summary>Asks a stage for the <see cref="DataPlaneAddress"/> it listens on for the link named by LinkId.</summary>
    [MessagePackObject]
    public sealed record GetDataPlaneAddress([property: Key(0)] string LinkId) : IClusterMessage;
}
