namespace ShareLoRA.Cluster.Hosting;

/// <summary>Process exit codes of a node, so a supervisor script can tell a clean stop from being downed.</summary>
public static class NodeExitCodes
{
    /// <summary>Stopped on request (SIGTERM, SIGINT, or asked to leave).</summary>
    public const int Stopped = 0;

    /// <summary>The ActorSystem ended for another reason (fatal error).</summary>
    public const int Failed = 1;

    /// <summary>The cluster downed this node (unreachable, split-brain resolver); restart it to rejoin as a new node.</summary>
    public const int Downed = 3;
}
