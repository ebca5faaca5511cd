using Akka.Actor;
using Akka.Cluster;
using Akka.Event;

namespace ShareLoRA.Cluster.Nodes;

/// <summary>
/// Runs on workers (/user/seed-watch): once every seed-role member this worker has seen is removed from its cluster, ends
/// the worker's ActorSystem with <see cref="SeedLost"/>. Needed because a killed seed is not always what goes: when the
/// workers are the larger side (or, on a tie, hold the lowest address) the split-brain resolver downs the seed and keeps
/// the workers in a cluster of their own, without a coordinator, that a restarted seed never joins. Ending that system
/// lets <see cref="Hosting.NodeRunner"/> start a new one that joins the seed again.
/// </summary>
public sealed class SeedWatch : ReceiveActor
{
    /// <summary>Actor name under /user.</summary>
    public const string Name = "seed-watch";

    /// <summary>The cluster role of seed nodes (seed.hocon), which host the coordinator singleton.</summary>
    public const string SeedRole = "seed";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private readonly HashSet<UniqueAddress> _seeds = [];
    private bool _triggered;

    public SeedWatch()
    {
        Receive<ClusterEvent.MemberRemoved>(e =>
        {
            if (!e.Member.HasRole(SeedRole) || !_seeds.Remove(e.Member.UniqueAddress) || _seeds.Count > 0 || _triggered) return;
            // A node that was downed itself sees every member removed as its cluster shuts down; that is the downing's
            // shutdown (exit 3), not a lost seed, and must keep its own reason.
            if (_cluster.IsTerminated || _cluster.SelfMember.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed) return;
            _triggered = true;
            _log.Warning("the last seed-role member {0} was removed from this worker's cluster: ending this ActorSystem so the worker can join the seed again",
                e.Member.Address);
            CoordinatedShutdown.Get(Context.System).Run(SeedLost.Instance);
        });
        Receive<ClusterEvent.IMemberEvent>(e =>
        {
            if (e.Member.HasRole(SeedRole) && e.Member.Status is not (MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Removed))
                _seeds.Add(e.Member.UniqueAddress);
        });
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new SeedWatch());

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    /// <summary>CoordinatedShutdown reason: no seed-role member is left in this worker's cluster.</summary>
    public sealed class SeedLost : CoordinatedShutdown.Reason
    {
        public static readonly SeedLost Instance = new();
        private SeedLost() { }
        public override int ExitCode => Hosting.NodeExitCodes.SeedLost;
    }
}
