using MessagePack;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Status;

/// <summary>Messages of the status service that every node runs at <see cref="StatusService.Path"/>.</summary>
public static class StatusProtocol
{
    /// <summary>Asks for a <see cref="StatusReport"/>.</summary>
    [MessagePackObject]
    public sealed record GetStatus : IClusterMessage;
}
