using Akka.Actor;
using MessagePack;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Nodes;

/// <summary>Messages of the <see cref="NodeGuardian"/>: what a node has (devices, memory) and the forward-only eval stages it spawns.</summary>
public static class NodeProtocol
{
    /// <summary>Asks a node guardian for its <see cref="NodeReport"/>.</summary>
    [MessagePackObject]
    public sealed record GetNodeReport : IClusterMessage;

    /// <summary>One compute device of a node ("cpu", "cuda:0", ...); memory figures are null when unknown.</summary>
    [MessagePackObject]
    public sealed record DeviceInfo(
        [property: Key(0)] string Name,
        [property: Key(1)] long? FreeMemoryBytes,
        [property: Key(2)] long? TotalMemoryBytes);

    /// <summary>
    /// What a node offers: its address and roles, the device it was started for (--device), the torch thread count
    /// (--threads, 0 = library default) and every device it sees.
    /// </summary>
    [MessagePackObject]
    public sealed record NodeReport(
        [property: Key(0)] string Address,
        [property: Key(1)] string[] Roles,
        [property: Key(2)] string AssignedDevice,
        [property: Key(3)] int Threads,
        [property: Key(4)] DeviceInfo[] Devices,
        [property: Key(5)] int ProcessId) : IClusterMessage;

    /// <summary>
    /// To a worker's node guardian: create the forward-only evaluation stage <paramref name="StageIndex"/> of
    /// <paramref name="Stages"/> for session <paramref name="SessionId"/>, loading layers [FirstLayer, EndLayer) of
    /// <paramref name="ModelDir"/> and its slice of the adapter in <paramref name="AdapterDir"/> (null = none). It reports
    /// to <paramref name="Session"/> (ready or failed).
    /// </summary>
    [MessagePackObject]
    public sealed record SpawnEvalStage(
        [property: Key(0)] string SessionId,
        [property: Key(1)] int StageIndex,
        [property: Key(2)] int Stages,
        [property: Key(3)] string ModelDir,
        [property: Key(4)] string? AdapterDir,
        [property: Key(5)] int FirstLayer,
        [property: Key(6)] int EndLayer,
        [property: Key(7)] IActorRef Session) : IClusterMessage;
}
