using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Hosting;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Training.Evaluation;

namespace ShareLoRA.Cluster.Evaluation;

/// <summary>
/// One evaluation session on the seed: picks up to P Up workers, has their node guardians spawn forward-only
/// <see cref="EvalStageActor"/>s over an even split of the layers (<see cref="EvaluationPartition"/>), links them over
/// the data plane, then passes each client request to every stage in order and the last stage's readout back to the
/// client. Behaviours: <see cref="Starting"/> (stages loading and connecting), <see cref="Ready"/> (serving).
/// </summary>
/// <remarks>
/// The session ends — and stops its stages — on <see cref="EvalProtocol.CloseSession"/>, when the client's actor is
/// gone (death watch over remoting), after the idle timeout without a request, or when a stage fails or its worker
/// becomes unreachable or leaves, also while the stages load (pending requests then fail with the reason). No tensor
/// work happens here.
/// </remarks>
public sealed class EvalSession : ReceiveActor
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(10);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _id;
    private readonly EvalProtocol.OpenSession _open;
    private readonly Dictionary<long, IActorRef> _pending = [];
    private IReadOnlyList<(int FirstLayer, int EndLayer)> _ranges = [];
    private Address[] _workers = [];
    private EvalProtocol.StageReady?[] _ready = [];
    private int _connected;
    private ICancelable? _startTimer;

    private sealed record StartTimedOut
    {
        public static readonly StartTimedOut Instance = new();
    }

    // Every answer goes to the client's own actor, not to the receptionist's reply tunnel: that tunnel closes after 30 s
    // of silence, and loading a big model's stages takes longer.
    public EvalSession(string id, EvalProtocol.OpenSession open)
    {
        _id = id;
        _open = open;
        Starting();
    }

    public static Props Props(string id, EvalProtocol.OpenSession open) =>
        Akka.Actor.Props.Create(() => new EvalSession(id, open));

    private IEnumerable<IActorRef> Stages => _ready.Where(r => r is not null).Select(r => r!.Stage);

    protected override void PreStart()
    {
        Context.Watch(_open.Client);
        var state = Akka.Cluster.Cluster.Get(Context.System).State;
        var up = state.Members
            .Where(m => m.Status == MemberStatus.Up && m.HasRole(NodeHost.RoleName(NodeRole.Worker)) && !state.Unreachable.Contains(m))
            .Select(m => m.Address)
            .OrderBy(a => a.ToString(), StringComparer.Ordinal)
            .ToArray();
        if (_open.NumLayers < 1 || _open.Stages < 1)
        {
            Refuse($"stages ({_open.Stages}) and model layers ({_open.NumLayers}) must be >= 1");
            return;
        }
        if (up.Length == 0)
        {
            Refuse("no worker is Up in the cluster (start one with `sharelora node worker --seed ...`)");
            return;
        }
        int p = Math.Min(Math.Min(_open.Stages, up.Length), _open.NumLayers);
        _ranges = EvaluationPartition.Split(_open.NumLayers, p);
        _workers = up.Take(p).ToArray();
        _ready = new EvalProtocol.StageReady?[p];
        for (int i = 0; i < p; i++)
        {
            var (first, end) = _ranges[i];
            _log.Info("eval session {0}: stage {1} layers {2}-{3} of {4} on worker {5}", _id, i, first, end - 1, _open.ModelDir, _workers[i]);
            Context.ActorSelection(_workers[i] + "/user/" + NodeGuardian.Name)
                .Tell(new NodeProtocol.SpawnEvalStage(_id, i, p, _open.ModelDir, _open.AdapterDir, first, end, Self));
        }
        // A chosen worker lost before its stage reports (or after) fails the session at once, not at the start timeout.
        Akka.Cluster.Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsSnapshot,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        _open.Client.Tell(new EvalProtocol.SessionStarting(p));
        _startTimer = Context.System.Scheduler.ScheduleTellOnceCancelable(StartTimeout, Self, StartTimedOut.Instance, Self);
    }

    private void Starting()
    {
        Receive<EvalProtocol.StageReady>(m => m.SessionId == _id, m =>
        {
            _ready[m.StageIndex] = m;
            Context.Watch(m.Stage);
            if (_ready.Any(r => r is null)) return;
            for (int i = 0; i < _ready.Length; i++)
                _ready[i]!.Stage.Tell(new EvalProtocol.ConnectStage(_id, i + 1 < _ready.Length ? _ready[i + 1]!.Listener : null));
        });
        Receive<EvalProtocol.StageConnected>(m => m.SessionId == _id, _ =>
        {
            if (++_connected < _ready.Length) return;
            _startTimer?.Cancel();
            _log.Info("eval session {0}: {1} stages ready for client {2}", _id, _ready.Length, _open.Client.Path.Address);
            _open.Client.Tell(new EvalProtocol.SessionOpened(Self, _ready.Select(r => r!.Node).ToArray(),
                _ranges.Select(r => r.FirstLayer).ToArray(), _ranges.Select(r => r.EndLayer).ToArray()));
            if (_open.IdleTimeoutSeconds > 0) Context.SetReceiveTimeout(TimeSpan.FromSeconds(_open.IdleTimeoutSeconds));
            Become(Ready);
        });
        Receive<StartTimedOut>(_ => Refuse($"the stages did not load within {StartTimeout.TotalMinutes:0} minutes"));
        Common();
    }

    private void Ready()
    {
        Receive<EvalProtocol.Forward>(m =>
        {
            _pending[m.RequestId] = Sender;
            foreach (var stage in Stages)
                stage.Tell(new EvalProtocol.StageForward(_id, m.RequestId, m.Request, m.DecodeId, m.CacheCapacity));
        });
        Receive<EvalProtocol.StageResult>(m => m.SessionId == _id, m =>
        {
            if (_pending.Remove(m.RequestId, out var requester)) requester.Tell(new EvalProtocol.Result(m.RequestId, m.Values, m.NextToken));
        });
        Receive<EvalProtocol.EndDecoding>(m =>
        {
            foreach (var stage in Stages) stage.Tell(new EvalProtocol.StageEndDecoding(_id, m.DecodeId));
        });
        Receive<ReceiveTimeout>(_ =>
        {
            _log.Warning("eval session {0}: no request for {1:0} s; closing", _id, _open.IdleTimeoutSeconds);
            _open.Client.Tell(new EvalProtocol.SessionFailed($"the session was closed after {_open.IdleTimeoutSeconds:0} s without a request"));
            Context.Stop(Self);
        });
        Common();
    }

    private void Common()
    {
        Receive<ClusterEvent.UnreachableMember>(e => LostWorker(e.Member.Address, "became unreachable"));
        Receive<ClusterEvent.MemberRemoved>(e => LostWorker(e.Member.Address, "was removed from the cluster"));
        Receive<ClusterEvent.MemberLeft>(e => LostWorker(e.Member.Address, "left the cluster"));
        Receive<ClusterEvent.IClusterDomainEvent>(_ => { });
        Receive<ClusterEvent.CurrentClusterState>(_ => { });
        Receive<EvalProtocol.StageFailed>(m => m.SessionId == _id, m => Refuse(m.Reason));
        Receive<EvalProtocol.CloseSession>(_ =>
        {
            _log.Info("eval session {0}: closed by the client", _id);
            Context.Stop(Self); // PostStop stops the stages
            Sender.Tell(new EvalProtocol.SessionClosed());
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_open.Client))
            {
                _log.Warning("eval session {0}: the client {1} is gone; stopping the stages", _id, t.ActorRef.Path.Address);
                Context.Stop(Self);
                return;
            }
            int index = Array.FindIndex(_ready, r => r?.Stage.Equals(t.ActorRef) == true);
            if (index >= 0) Refuse($"eval stage {index} on worker {_ready[index]!.Node} stopped unexpectedly");
        });
    }

    private void LostWorker(Address address, string how)
    {
        int index = Array.IndexOf(_workers, address);
        if (index >= 0) Refuse($"worker {address} holding eval stage {index} {how}");
    }

    // Tells the client (starting, or between requests) and fails every pending request, then ends the session.
    private void Refuse(string reason)
    {
        _log.Error("eval session {0} failed: {1}", _id, reason);
        _open.Client.Tell(new EvalProtocol.SessionFailed(reason));
        foreach (var (requestId, requester) in _pending) requester.Tell(new EvalProtocol.RequestFailed(requestId, reason));
        _pending.Clear();
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);
        _startTimer?.Cancel();
        foreach (var (requestId, requester) in _pending) requester.Tell(new EvalProtocol.RequestFailed(requestId, "the evaluation session ended"));
        foreach (var stage in Stages) stage.Tell(new EvalProtocol.StopStage(_id));
        // Stages that never reported ready are stopped by their own watch of this session.
    }
}
