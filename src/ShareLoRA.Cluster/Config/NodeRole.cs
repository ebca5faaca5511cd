namespace ShareLoRA.Cluster.Config;

/// <summary>What a process is in the cluster; the lower-case name is its Akka cluster role.</summary>
public enum NodeRole
{
    /// <summary>The fixed contact point workers join through (hosts the coordinator later).</summary>
    Seed,

    /// <summary>A node with a device that runs pipeline stages.</summary>
    Worker,
}
