using MessagePack;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// Where a <see cref="TcpActivationListener"/> waits for its neighbour, sent to that neighbour in an actor message.
/// The token is a per-link secret: the listener accepts only a connection that presents it.
/// </summary>
[MessagePackObject]
public sealed record DataPlaneAddress(
    [property: Key(0)] string Host,
    [property: Key(1)] int Port,
    [property: Key(2)] string Token) : IClusterMessage
{
    public override string ToString() => $"{Host}:{Port}";
}
