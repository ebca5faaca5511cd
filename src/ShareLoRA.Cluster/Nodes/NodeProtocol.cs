using MessagePack;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Nodes;

/// <summary>Messages of the <see cref="NodeGuardian"/>: what a node has (devices, memory) and, later, stage spawning.</summary>
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
}
