using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Akka.Cluster.Tools.Singleton;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// Starts the <see cref="Coordinator"/> as a cluster singleton on the seed role (/user/coordinator manages it) and a
/// proxy at <see cref="ProxyPath"/>, registered with the ClusterClientReceptionist so `sharelora submit` and
/// `sharelora status` reach the coordinator without joining the cluster.
/// </summary>
public static class CoordinatorSingleton
{
    public const string ManagerName = "coordinator";
    public const string ProxyName = "coordinator-proxy";

    /// <summary>Where clients (and the status service) send coordinator messages.</summary>
    public const string ProxyPath = "/user/" + ProxyName;

    /// <summary>Starts the singleton manager and the proxy on a seed node; returns the proxy.</summary>
    public static IActorRef Start(ActorSystem system, string role = "seed")
    {
        // Same reference.conf as the obsolete ClusterSingletonManager.DefaultConfig() (akka.cluster.singleton defaults).
        system.Settings.InjectTopLevelFallback(ClusterSingleton.DefaultConfig());
        system.Settings.InjectTopLevelFallback(ClusterSingletonProxy.DefaultConfig());
        system.ActorOf(ClusterSingletonManager.Props(Coordinator.Props(), PoisonPill.Instance,
            ClusterSingletonManagerSettings.Create(system).WithRole(role)), ManagerName);
        var proxy = system.ActorOf(ClusterSingletonProxy.Props("/user/" + ManagerName,
            ClusterSingletonProxySettings.Create(system).WithRole(role)), ProxyName);
        ClusterClientReceptionist.Get(system).RegisterService(proxy);
        return proxy;
    }
}
