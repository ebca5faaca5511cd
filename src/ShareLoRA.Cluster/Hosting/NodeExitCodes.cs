namespace ShareLoRA.Cluster.Hosting;

/// <summary>Process exit codes of a node, so a supervisor script can tell a clean stop from being downed.</summary>
public static class NodeExitCodes
{
    /// <summary>Stopped on request (SIGTERM, SIGINT, or asked to leave).</summary>
    public const int Stopped = 0;

    /// <summary>The ActorSystem ended for another reason (fatal error), or a worker's new ActorSystem could not start.</summary>
    public const int Failed = 1;

    /// <summary>
    /// The cluster downed this node (unreachable, split-brain resolver). A worker rejoins by itself unless run with
    /// --no-rejoin; a seed, or a worker with --no-rejoin, exits with this code: restart it to rejoin as a new node.
    /// </summary>
    public const int Downed = 3;

    /// <summary>
    /// A worker's cluster has no seed-role node left (the seed was killed or stopped and removed), or joining through
    /// the seed gave up (akka.cluster.shutdown-after-unsuccessful-join-seed-nodes). A worker rejoins by itself unless
    /// run with --no-rejoin; with it, the process exits with this code.
    /// </summary>
    public const int SeedLost = 4;

    /// <summary>Whether a worker whose ActorSystem ended with this code may start a new one and join the seed again.</summary>
    public static bool EndsMembershipOnly(int code) => code is Downed or SeedLost;
}
