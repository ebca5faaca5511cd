using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Cluster.Stages;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Pipeline;

namespace ShareLoRA.Cluster.Coordination;

// Construction, state, behaviours, membership, submission and the start of an attempt, the end of a job; the rest by
// concern in Coordinator.Steps.cs, .Evaluation.cs, .Checkpoints.cs, .Recovery.cs and .Journal.cs.
/// <summary>
/// The cluster's training coordinator, a cluster singleton on the seed role. Takes one job at a time: waits for
/// enough workers (one stage per worker), asks their node guardians to spawn the stages of the partition plan, wires
/// neighbours' data-plane links, then runs the step loop: micro-batches out to the stages, partial shared gradients
/// in, one <see cref="SharedParameterServer"/> step, the new shared values and clip coefficient out as the commit.
/// With data.eval_every it runs the eval split through the stages forward-only before the first step, every
/// eval_every steps and at the last, as the local trainer does. Every checkpoint.every steps and at the end it
/// collects the stages' state and writes a checkpoint. When a worker holding a stage is lost it recovers by itself:
/// probes which workers are alive, reloads the last checkpoint, puts the stages on the live workers (re-planning over
/// fewer when needed) and continues.
/// </summary>
/// <remarks>
/// Named behaviours: ReadingState (start-up: asks the journal), Idle, WaitingForWorkers, Starting, Running, Evaluating,
/// Checkpointing, Recovering, Failed, WritingState (a journal write in flight; Coordinator.Journal.cs). All job state
/// lives in <see cref="JobRun"/> plus the stage table here; a step is only ever committed whole, and evaluations and
/// checkpoints are taken between a commit and the next dispatch. Each start of the stages is an attempt with its own id
/// ("JOB-aN"), which the stages carry in every message: late messages of an abandoned attempt are dropped. Recovery
/// decisions are made by the plain <see cref="RecoveryPlanner"/>. Runs on its own pinned dispatcher (tensor work).
/// Its own state (the active job, its last committed checkpoint, the job counter) is in the <see cref="CoordinatorJournal"/>
/// child: on start an interrupted job resumes by itself from its newest checkpoint (docs/PERSISTENCE.md).
/// </remarks>
public sealed partial class Coordinator : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    /// <summary>HOCON path of the coordinator's dispatcher.</summary>
    public const string DispatcherId = "sharelora.coordinator-dispatcher";

    /// <summary>Cluster role of the nodes that run stages.</summary>
    public const string WorkerRole = "worker";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(5);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Akka.Cluster.Cluster _cluster = Akka.Cluster.Cluster.Get(Context.System);
    private int _jobCounter;
    private readonly HashSet<Address> _workers = [];
    private readonly HashSet<Address> _unreachable = [];

    // The current job: run state, attempt, stage table and the step in progress.
    private JobRun? _run;
    private JobStatus _status = new(null, null, JobStatus.Idle, "reading the coordinator's state", 0, 0, null, 0, [], null);
    private int _attempt;
    private string _attemptId = "";
    private Assignment[] _assignments = [];
    private CoordinatorProtocol.StageReady?[] _ready = [];
    private bool[] _connected = [];
    private CoordinatorProtocol.StepPartial?[] _partials = [];
    private Dictionary<string, TensorPayload>[] _adapters = [];
    private PendingStep? _pending;
    private PendingEval? _evaluating;
    private CoordinatorProtocol.EvalPartial?[] _evalPartials = [];
    private StageStateCollector? _collecting;
    private long _collectStart;
    // The checkpoint the stages of the starting attempt take their state from (resume or recovery); disposed once sent.
    private RestoredTrainingState? _restore;
    private Recovery? _recovery;
    private int _recoveries;
    private int _probe;

    private sealed record Assignment(int Index, Address Worker, int FirstLayer, int EndLayer);

    private sealed record StartTimedOut(string AttemptId);

    public ITimerScheduler Timers { get; set; } = null!;

    public Coordinator()
    {
        ReadingState();
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new Coordinator()).WithDispatcher(DispatcherId);

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        StartJournal();
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        StopStages();
        _restore?.Dispose();
        _run?.Dispose();
        _run = null;
    }

    // ---- behaviours ----

    private void Idle()
    {
        Receive<CoordinatorProtocol.SubmitJob>(Submit);
        CommonHandlers();
    }

    private void Failed()
    {
        Receive<CoordinatorProtocol.SubmitJob>(Submit);
        CommonHandlers();
    }

    private void WaitingForWorkers()
    {
        BusyHandlers();
    }

    private void Starting()
    {
        Receive<CoordinatorProtocol.StageReady>(m => m.JobId == _attemptId, OnStageReady);
        Receive<CoordinatorProtocol.StageConnected>(m => m.JobId == _attemptId, OnStageConnected);
        Receive<StartTimedOut>(m => m.AttemptId == _attemptId,
            _ => Fail($"the stages did not all load and connect within {StartTimeout.TotalMinutes:0} minutes " +
                      $"({_ready.Count(r => r is not null)} of {_ready.Length} loaded, {_connected.Count(c => c)} connected)"));
        BusyHandlers();
    }

    private void Running()
    {
        Receive<CoordinatorProtocol.StepPartial>(m => m.JobId == _attemptId, OnStepPartial);
        Receive<CoordinatorProtocol.StageAdapter>(m => m.JobId == _attemptId, OnStageAdapter);
        BusyHandlers();
    }

    // A forward-only evaluation between a commit and the next dispatch (a step boundary): stages do nothing else.
    private void Evaluating()
    {
        Receive<CoordinatorProtocol.EvalPartial>(m => m.JobId == _attemptId, OnEvalPartial);
        BusyHandlers();
    }

    private void Checkpointing()
    {
        Receive<CoordinatorProtocol.StageStatePart>(m => m.JobId == _attemptId, OnStageStatePart);
        BusyHandlers();
    }

    // No stages: the probe's answer decides, or a joining worker when none was alive.
    private void Recovering()
    {
        Receive<ProbeResult>(m => m.Probe == _probe, OnProbeResult);
        BusyHandlers();
    }

    // While a job is in progress: refuse others, recover from a lost stage, answer status.
    private void BusyHandlers()
    {
        Receive<CoordinatorProtocol.SubmitJob>(SubmitWhileBusy);
        Receive<Terminated>(IsJournal, _ => OnJournalLost());
        Receive<CoordinatorProtocol.StageFailed>(m => m.JobId == _attemptId, m =>
        {
            if (m.Recoverable) OnLoss(m.Message, m.StageIndex);
            else Fail(m.Message);
        });
        Receive<Terminated>(t =>
        {
            int index = Array.FindIndex(_ready, r => r is not null && r.Stage.Equals(t.ActorRef));
            if (index >= 0) OnLoss($"stage {index} on worker {_assignments[index].Worker} stopped unexpectedly", index);
        });
        CommonHandlers();
    }

    private void CommonHandlers()
    {
        Receive<Terminated>(IsJournal, _ => OnJournalLost());
        Receive<CoordinatorProtocol.GetJobStatus>(_ => Sender.Tell(_status));
        // Late messages of an abandoned attempt or job, membership news while idle: nothing to do.
        Receive<CoordinatorProtocol.StageReady>(m => m.Stage.Tell(new StageProtocol.StopStage(m.JobId)));
        Receive<CoordinatorProtocol.StageConnected>(_ => { });
        Receive<CoordinatorProtocol.StageFailed>(_ => { });
        Receive<CoordinatorProtocol.StepPartial>(_ => { });
        Receive<CoordinatorProtocol.EvalPartial>(_ => { });
        Receive<CoordinatorProtocol.StageAdapter>(_ => { });
        Receive<CoordinatorProtocol.StageStatePart>(_ => { });
        Receive<StartTimedOut>(_ => { });
        Receive<ProbeResult>(_ => { });
        Receive<Terminated>(_ => { });
        Receive<ClusterEvent.IMemberEvent>(OnMembership);
        Receive<ClusterEvent.IReachabilityEvent>(OnMembership);
    }

    // Workers are tracked from the events themselves: Cluster.State is a read view updated by its own subscription
    // and can lag behind the event this actor is handling.
    private void OnMembership(object e)
    {
        Address? lost = null;
        string? how = null;
        switch (e)
        {
            case ClusterEvent.MemberUp up when up.Member.HasRole(WorkerRole):
                _workers.Add(up.Member.Address);
                break;
            case ClusterEvent.MemberRemoved removed:
                _workers.Remove(removed.Member.Address);
                _unreachable.Remove(removed.Member.Address);
                (lost, how) = (removed.Member.Address, "left the cluster");
                break;
            case ClusterEvent.MemberLeft or ClusterEvent.MemberExited:
                var leaving = ((ClusterEvent.MemberStatusChange)e).Member.Address;
                _workers.Remove(leaving);
                (lost, how) = (leaving, "is leaving the cluster");
                break;
            case ClusterEvent.UnreachableMember unreachable:
                _unreachable.Add(unreachable.Member.Address);
                (lost, how) = (unreachable.Member.Address, "became unreachable");
                break;
            case ClusterEvent.ReachableMember reachable:
                _unreachable.Remove(reachable.Member.Address);
                break;
        }
        if (_run is null) return;
        if (_status.State == JobStatus.WaitingForWorkers) TryStart();
        // No live worker was left: a worker coming (back) is worth a new probe.
        else if (_status.State == JobStatus.Recovering && _recovery?.FromStep is not null && _assignments.Length == 0 && lost is null)
            Probe();
        else if (lost is not null && (_status.State is JobStatus.Starting or JobStatus.Running) && HoldsStage(lost))
            OnLoss($"worker {lost} holding stage {StageOn(lost)} {how}", StageOn(lost));
    }

    private bool HoldsStage(Address address) => _assignments.Any(a => a.Worker == address);

    private int StageOn(Address address) => _assignments.First(a => a.Worker == address).Index;

    // ---- submission and start ----

    private void Submit(CoordinatorProtocol.SubmitJob m)
    {
        // The counter moves only when the journal records the job, so ids stay unique across restarts.
        var jobId = $"{_jobCounter + 1}";
        JobRun run;
        RestoredTrainingState? restore;
        try
        {
            var job = JobConfig.Parse(m.JobJson, "submitted job", "/");
            jobId = $"{job.Name}-{_jobCounter + 1}";
            (run, restore) = OpenRun(jobId, job, m.Resume, requireCheckpoint: true);
        }
        catch (Exception e)
        {
            _log.Warning("job rejected: {0}", e.Message);
            Sender.Tell(new CoordinatorProtocol.JobRejected(e.Message.Split('\n')[0]));
            return;
        }
        Accept(run, restore, m.Resume, Sender);
    }

    private IReadOnlyList<Address> UpWorkers() =>
        _workers.Where(a => !_unreachable.Contains(a)).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList();

    private void UpdateWaitingStatus()
    {
        int needed = _run!.Plan.Stages.Count, up = UpWorkers().Count;
        var message = $"waiting for {needed} worker{(needed == 1 ? "" : "s")}, {up} up";
        if (_status.Message != message) _run.Log.Information("{Message}", message);
        _status = _status with { State = JobStatus.WaitingForWorkers, Message = message };
    }

    private void TryStart()
    {
        var workers = UpWorkers();
        if (workers.Count < _run!.Plan.Stages.Count)
        {
            UpdateWaitingStatus();
            return;
        }
        StartAttempt(workers);
    }

    // Spawns the plan's stages on workers[0..p) as a new attempt; a restored run's stages get their state after StageReady.
    private void StartAttempt(IReadOnlyList<Address> workers)
    {
        var run = _run!;
        int p = run.Plan.Stages.Count;
        _attemptId = $"{run.JobId}-a{++_attempt}";
        _assignments = run.Plan.Stages
            .Select(s => new Assignment(s.Index, workers[s.Index], s.FirstLayer, s.EndLayer))
            .ToArray();
        _ready = new CoordinatorProtocol.StageReady?[p];
        _connected = new bool[p];
        _partials = new CoordinatorProtocol.StepPartial?[p];
        _adapters = new Dictionary<string, TensorPayload>[p];
        _pending = null;
        _evaluating = null;
        _collecting = null;
        var jobJson = run.StageJob.ToJson();
        foreach (var a in _assignments)
        {
            run.Log.Information("stage {Index}: layers {First}-{Last} on worker {Worker} ({Attempt})", a.Index, a.FirstLayer, a.EndLayer - 1, a.Worker, _attemptId);
            Context.ActorSelection(new RootActorPath(a.Worker) / "user" / NodeGuardian.Name)
                .Tell(new StageProtocol.SpawnStage(_attemptId, a.Index, p, jobJson, a.FirstLayer, a.EndLayer, Self, Restore: _restore is not null));
        }
        _status = _status with
        {
            State = JobStatus.Starting,
            Message = RecoveryPrefix() + $"loading {p} stage(s)" + (_restore is not null ? $" from checkpoint {_restore.Name}" : ""),
            Step = run.StepsDone,
            Stages = _assignments.Select(a => new StageStatus(a.Index, a.Worker.ToString(), a.FirstLayer, a.EndLayer, "?")).ToArray(),
        };
        Timers.StartSingleTimer("start", new StartTimedOut(_attemptId), StartTimeout);
        Become(Starting);
    }

    private void OnStageReady(CoordinatorProtocol.StageReady m)
    {
        _ready[m.StageIndex] = m;
        Context.Watch(m.Stage);
        _status = _status with
        {
            Stages = _status.Stages.Select(s => s.Index == m.StageIndex ? s with { Device = m.Device } : s).ToArray(),
            Message = RecoveryPrefix() + $"{_ready.Count(r => r is not null)} of {_ready.Length} stage(s) loaded",
        };
        if (_restore is not null && !SendRestoredState(m)) return;
        if (_ready.Any(r => r is null)) return;
        _restore?.Dispose();
        _restore = null;
        // Every stage i < p-1 dials stage i+1's listener: activations and gradients never pass through here.
        for (int i = 0; i < _ready.Length; i++)
            _ready[i]!.Stage.Tell(new StageProtocol.ConnectNeighbours(_attemptId, i + 1 < _ready.Length ? _ready[i + 1]!.Listener : null));
    }

    private void OnStageConnected(CoordinatorProtocol.StageConnected m)
    {
        _connected[m.StageIndex] = true;
        if (_connected.Any(c => !c)) return;
        Timers.Cancel("start");
        _run!.Log.Information("all {Stages} stage(s) loaded and connected; training", _connected.Length);
        _status = _status with { State = JobStatus.Running, Message = "training" };
        Become(Running);
        ContinueAfterStep();
    }

    // ---- ending ----

    private void Fail(string reason)
    {
        var run = _run!;
        _log.Error("job {0} failed: {1}", run.JobId, reason);
        run.Log.Error("job {Id} failed at step {Step}: {Reason}", run.JobId, run.StepsDone + 1, reason);
        _status = _status with { State = JobStatus.Failed, Message = reason };
        EndJob(Failed);
    }

    // Stops and forgets the job, records its end (state and message from the status), then switches to next.
    private void EndJob(Action next)
    {
        var jobId = _run!.JobId;
        DropAttempt();
        _restore?.Dispose();
        _restore = null;
        _recovery = null;
        _run?.Dispose();
        _run = null;
        RecordEnd(jobId, next);
    }

    // Stops the attempt's stages and forgets them; their late messages carry the old attempt id and are dropped.
    private void DropAttempt()
    {
        Timers.Cancel("start");
        StopStages();
        foreach (var r in _ready) if (r is not null) Context.Unwatch(r.Stage);
        _restore?.Dispose(); // a restore not yet handed out is reloaded by the next recovery
        _restore = null;
        _assignments = [];
        _ready = [];
        _connected = [];
        _partials = [];
        _adapters = [];
        _pending = null;
        _evaluating = null;
        _evalPartials = [];
        _collecting = null;
        _attemptId = "";
    }

    // Through the guardians' paths, so stages that are still loading (no reference yet) are stopped too.
    private void StopStages()
    {
        if (_run is null) return;
        foreach (var a in _assignments)
            Context.ActorSelection(new RootActorPath(a.Worker) / "user" / NodeGuardian.Name / StageActor.NameOf(_attemptId, a.Index))
                .Tell(new StageProtocol.StopStage(_attemptId));
    }
}
