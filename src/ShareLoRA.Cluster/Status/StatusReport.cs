using MessagePack;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Status;

/// <summary>
/// A snapshot of the cluster as one node sees it. Extensible: new fields get the next Key number and a default,
/// so older clients ignore them and newer clients read defaults from older nodes. Job is the coordinator's current
/// or last job (stages, step, loss, tokens/s), null when no coordinator answered.
/// </summary>
[MessagePackObject]
public sealed record StatusReport(
    [property: Key(0)] string ReportedBy,
    [property: Key(1)] DateTimeOffset TakenAt,
    [property: Key(2)] MemberInfo[] Members,
    [property: Key(3)] NodeProtocol.NodeReport[] Nodes,
    [property: Key(4)] JobStatus? Job = null) : IClusterMessage;

/// <summary>One cluster member: address, roles, membership status (Joining, Up, Leaving, Down, ...) and reachability.</summary>
[MessagePackObject]
public sealed record MemberInfo(
    [property: Key(0)] string Address,
    [property: Key(1)] string[] Roles,
    [property: Key(2)] string Status,
    [property: Key(3)] bool Reachable);
