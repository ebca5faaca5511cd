using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Evaluation;
using ShareLoRA.Cluster.Stages;

namespace ShareLoRA.Cluster.Nodes;

/// <summary>
/// The one top-level actor of every node (/user/node): reports the node's devices and memory, logs membership
/// changes it observes, and spawns the pipeline stages (<see cref="StageActor"/>) the coordinator assigns to this node
/// and the forward-only evaluation stages (<see cref="EvalStageActor"/>) an evaluation session asks for.
/// </summary>
public sealed class NodeGuardian : ReceiveActor
{
    /// <summary>Actor name under /user.</summary>
    public const string Name = "node";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);

    public NodeGuardian(string assignedDevice, int threads)
    {
        Receive<NodeProtocol.GetNodeReport>(_ =>
        {
            var self = _cluster.SelfMember;
            Sender.Tell(new NodeProtocol.NodeReport(
                self.Address.ToString(),
                self.Roles.OrderBy(r => r, StringComparer.Ordinal).ToArray(),
                assignedDevice,
                threads,
                DeviceInventory.Detect(probeCuda: assignedDevice != "cpu"),
                Environment.ProcessId));
        });
        Receive<StageProtocol.SpawnStage>(spawn =>
        {
            try
            {
                Context.ActorOf(StageActor.Props(spawn, assignedDevice), StageActor.NameOf(spawn.JobId, spawn.StageIndex));
            }
            catch (Exception e)
            {
                spawn.Coordinator.Tell(new CoordinatorProtocol.StageFailed(spawn.JobId, spawn.StageIndex,
                    $"stage {spawn.StageIndex} on worker {_cluster.SelfAddress}: cannot create the stage actor: {e.Message}"));
            }
        });
        Receive<NodeProtocol.SpawnEvalStage>(spawn =>
        {
            try
            {
                Context.ActorOf(EvalStageActor.Props(spawn, assignedDevice), EvalStageActor.NameOf(spawn.SessionId, spawn.StageIndex));
            }
            catch (Exception e)
            {
                spawn.Session.Tell(new EvalProtocol.StageFailed(spawn.SessionId, spawn.StageIndex,
                    $"eval stage {spawn.StageIndex} on worker {_cluster.SelfAddress}: cannot create the stage actor: {e.Message}"));
            }
        });
        Receive<ClusterEvent.MemberUp>(e => _log.Info("member up: {0} [{1}]", e.Member.Address, string.Join(",", e.Member.Roles)));
        Receive<ClusterEvent.UnreachableMember>(e => _log.Warning("member unreachable: {0}", e.Member.Address));
        Receive<ClusterEvent.ReachableMember>(e => _log.Info("member reachable again: {0}", e.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(e => _log.Info("member removed: {0} (was {1})", e.Member.Address, e.PreviousStatus));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    public static Props Props(string assignedDevice, int threads) => Akka.Actor.Props.Create(() => new NodeGuardian(assignedDevice, threads));

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);
}
