using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Cluster.Stages;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Pipeline;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// The cluster's training coordinator, a cluster singleton on the seed role. Takes one job at a time: waits for
/// enough workers (one stage per worker), asks their node guardians to spawn the stages of the partition plan, wires
/// neighbours' data-plane links, then runs the step loop: micro-batches out to the stages, partial shared gradients
/// in, one <see cref="SharedParameterServer"/> step, the new shared values and clip coefficient out as the commit.
/// Membership loss or a stage failure aborts the job with a clear status; the coordinator stays responsive.
/// </summary>
/// <remarks>
/// Named behaviours: Idle, WaitingForWorkers, Starting, Running, Failed. All job state lives in <see cref="JobRun"/>
/// plus the stage table here, and a step is only ever committed whole: a later "checkpoint at a step boundary /
/// resume" hooks in between a commit and the next dispatch. Runs on its own pinned dispatcher (tensor work).
/// </remarks>
public sealed class Coordinator : ReceiveActor, IWithTimers
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

    // The current job: run state, stage table and the step in progress.
    private JobRun? _run;
    private JobStatus _status = new(null, null, JobStatus.Idle, "no job submitted yet", 0, 0, null, 0, [], null);
    private Assignment[] _assignments = [];
    private CoordinatorProtocol.StageReady?[] _ready = [];
    private bool[] _connected = [];
    private CoordinatorProtocol.StepPartial?[] _partials = [];
    private Dictionary<string, TensorPayload>[] _adapters = [];
    private PendingStep? _pending;

    private sealed record Assignment(int Index, Address Worker, int FirstLayer, int EndLayer);

    private sealed record PendingStep(int Step, double LearningRate, long TargetTokens, long Tokens, long StartTimestamp);

    private sealed record StartTimedOut(string JobId);

    public ITimerScheduler Timers { get; set; } = null!;

    public Coordinator()
    {
        Idle();
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new Coordinator()).WithDispatcher(DispatcherId);

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        StopStages();
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
        Receive<CoordinatorProtocol.StageReady>(m => m.JobId == _run!.JobId, OnStageReady);
        Receive<CoordinatorProtocol.StageConnected>(m => m.JobId == _run!.JobId, OnStageConnected);
        Receive<StartTimedOut>(m => m.JobId == _run!.JobId,
            _ => Fail($"the stages did not all load and connect within {StartTimeout.TotalMinutes:0} minutes " +
                      $"({_ready.Count(r => r is not null)} of {_ready.Length} loaded, {_connected.Count(c => c)} connected)"));
        BusyHandlers();
    }

    private void Running()
    {
        Receive<CoordinatorProtocol.StepPartial>(m => m.JobId == _run!.JobId, OnStepPartial);
        Receive<CoordinatorProtocol.StageAdapter>(m => m.JobId == _run!.JobId, OnStageAdapter);
        BusyHandlers();
    }

    // While a job is in progress: refuse others, fail on a stage's failure or death, answer status.
    private void BusyHandlers()
    {
        Receive<CoordinatorProtocol.SubmitJob>(_ =>
            Sender.Tell(new CoordinatorProtocol.JobRejected($"job {_run!.JobId} is {_status.State}; submit again when it has finished")));
        Receive<CoordinatorProtocol.StageFailed>(m => m.JobId == _run!.JobId, m => Fail(m.Message));
        Receive<Terminated>(t =>
        {
            int index = Array.FindIndex(_ready, r => r is not null && r.Stage.Equals(t.ActorRef));
            if (index >= 0) Fail($"stage {index} on worker {_assignments[index].Worker} stopped unexpectedly");
        });
        CommonHandlers();
    }

    private void CommonHandlers()
    {
        Receive<CoordinatorProtocol.GetJobStatus>(_ => Sender.Tell(_status));
        // Late messages of an aborted job, membership news while idle: nothing to do.
        Receive<CoordinatorProtocol.StageReady>(m => m.Stage.Tell(new StageProtocol.StopStage(m.JobId)));
        Receive<CoordinatorProtocol.StageConnected>(_ => { });
        Receive<CoordinatorProtocol.StageFailed>(_ => { });
        Receive<CoordinatorProtocol.StepPartial>(_ => { });
        Receive<CoordinatorProtocol.StageAdapter>(_ => { });
        Receive<StartTimedOut>(_ => { });
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
        // A worker holding a stage that becomes unreachable or leaves ends the job: its layers and their state are gone.
        else if (lost is not null && (_status.State is JobStatus.Starting or JobStatus.Running) && HoldsStage(lost))
            Fail($"worker {lost} holding stage {StageOn(lost)} {how}");
    }

    private bool HoldsStage(Address address) => _assignments.Any(a => a.Worker == address);

    private int StageOn(Address address) => _assignments.First(a => a.Worker == address).Index;

    // ---- submission and start ----

    private void Submit(CoordinatorProtocol.SubmitJob m)
    {
        var jobId = $"{++_jobCounter}";
        JobConfig job;
        JobRun run;
        try
        {
            job = JobConfig.Parse(m.JobJson, "submitted job", "/");
            jobId = $"{job.Name}-{_jobCounter}";
            run = JobRun.Start(jobId, job);
        }
        catch (Exception e)
        {
            _log.Warning("job rejected: {0}", e.Message);
            Sender.Tell(new CoordinatorProtocol.JobRejected(e.Message.Split('\n')[0]));
            return;
        }
        _run = run;
        _assignments = [];
        _ready = new CoordinatorProtocol.StageReady?[job.Pipeline.Stages];
        _connected = new bool[job.Pipeline.Stages];
        _partials = new CoordinatorProtocol.StepPartial?[job.Pipeline.Stages];
        _adapters = new Dictionary<string, TensorPayload>[job.Pipeline.Stages];
        _pending = null;
        _status = new JobStatus(jobId, job.Name, JobStatus.WaitingForWorkers, "", 0, job.Steps, null, 0, [], job.Output);
        _log.Info("job {0} accepted: {1} steps on {2} stage(s)", jobId, job.Steps, job.Pipeline.Stages);
        Sender.Tell(new CoordinatorProtocol.JobAccepted(jobId, job.Steps));
        Become(WaitingForWorkers);
        TryStart();
    }

    private IReadOnlyList<Address> UpWorkers() =>
        _workers.Where(a => !_unreachable.Contains(a)).OrderBy(a => a.ToString(), StringComparer.Ordinal).ToList();

    private void UpdateWaitingStatus()
    {
        int needed = _run!.Job.Pipeline.Stages, up = UpWorkers().Count;
        var message = $"waiting for {needed} worker{(needed == 1 ? "" : "s")}, {up} up";
        if (_status.Message != message) _run.Log.Information("{Message}", message);
        _status = _status with { State = JobStatus.WaitingForWorkers, Message = message };
    }

    private void TryStart()
    {
        var run = _run!;
        var workers = UpWorkers();
        int p = run.Job.Pipeline.Stages;
        if (workers.Count < p)
        {
            UpdateWaitingStatus();
            return;
        }
        _assignments = run.Plan.Stages
            .Select(s => new Assignment(s.Index, workers[s.Index], s.FirstLayer, s.EndLayer))
            .ToArray();
        var jobJson = run.Job.ToJson();
        foreach (var a in _assignments)
        {
            run.Log.Information("stage {Index}: layers {First}-{Last} on worker {Worker}", a.Index, a.FirstLayer, a.EndLayer - 1, a.Worker);
            Context.ActorSelection(new RootActorPath(a.Worker) / "user" / NodeGuardian.Name)
                .Tell(new StageProtocol.SpawnStage(run.JobId, a.Index, p, jobJson, a.FirstLayer, a.EndLayer, Self));
        }
        _status = _status with
        {
            State = JobStatus.Starting,
            Message = $"loading {p} stage(s)",
            Stages = _assignments.Select(a => new StageStatus(a.Index, a.Worker.ToString(), a.FirstLayer, a.EndLayer, "?")).ToArray(),
        };
        Timers.StartSingleTimer("start", new StartTimedOut(run.JobId), StartTimeout);
        Become(Starting);
    }

    private void OnStageReady(CoordinatorProtocol.StageReady m)
    {
        _ready[m.StageIndex] = m;
        Context.Watch(m.Stage);
        _status = _status with
        {
            Stages = _status.Stages.Select(s => s.Index == m.StageIndex ? s with { Device = m.Device } : s).ToArray(),
            Message = $"{_ready.Count(r => r is not null)} of {_ready.Length} stage(s) loaded",
        };
        if (_ready.Any(r => r is null)) return;
        // Every stage i < p-1 dials stage i+1's listener: activations and gradients never pass through here.
        for (int i = 0; i < _ready.Length; i++)
            _ready[i]!.Stage.Tell(new StageProtocol.ConnectNeighbours(_run!.JobId, i + 1 < _ready.Length ? _ready[i + 1]!.Listener : null));
    }

    private void OnStageConnected(CoordinatorProtocol.StageConnected m)
    {
        _connected[m.StageIndex] = true;
        if (_connected.Any(c => !c)) return;
        Timers.Cancel("start");
        _run!.Log.Information("all {Stages} stage(s) loaded and connected; training", _connected.Length);
        _status = _status with { State = JobStatus.Running, Message = "training" };
        Become(Running);
        DispatchStep();
    }

    // ---- the step loop ----

    private void DispatchStep()
    {
        var run = _run!;
        var (batches, lr, targets, tokens) = run.NextStep();
        int step = run.StepsDone, p = _ready.Length;
        Array.Clear(_partials);
        _pending = new PendingStep(step, lr, targets, tokens, Stopwatch.GetTimestamp());
        for (int i = 0; i < p; i++)
        {
            bool first = i == 0, last = i == p - 1;
            var micro = batches
                .Select(b => new StageProtocol.MicroBatchData(b.Rows, b.Columns, first ? b.InputIds : null, last ? b.Labels : null, b.AttentionMask))
                .ToArray();
            _ready[i]!.Stage.Tell(new StageProtocol.RunStep(run.JobId, step, Math.Max(1, targets), micro));
        }
    }

    private void OnStepPartial(CoordinatorProtocol.StepPartial m)
    {
        var pending = _pending;
        if (pending is null || m.Step != pending.Step) return;
        _partials[m.StageIndex] = m;
        if (_partials.Any(x => x is null)) return;
        var run = _run!;
        double seconds = Stopwatch.GetElapsedTime(pending.StartTimestamp).TotalSeconds;
        var partials = _partials.Select(x => x!).ToArray();
        var last = partials[^1];
        if (last.TargetTokens != pending.TargetTokens)
        {
            Fail($"step {pending.Step + 1}: the last stage counted {last.TargetTokens} target tokens, the data {pending.TargetTokens}");
            return;
        }

        Dictionary<string, TensorPayload> values;
        double clip;
        StepMetricsSummary summary;
        using (var scope = NewDisposeScope())
        {
            var grads = partials.Select(x => (IReadOnlyDictionary<string, Tensor>)x.SharedGradients.ToDictionary(g => g.Key, g => g.Value.ToTensor())).ToList();
            using var shared = run.StepShared(grads, partials.Select(x => x.LocalGradNormSquared).ToList(), pending.LearningRate);
            values = shared.Values.ToDictionary(v => v.Key, v => TensorPayload.FromTensor(v.Value));
            clip = shared.ClipCoefficient;
            long upBytes = partials.Sum(x => x.SharedGradients.Values.Sum(g => g.Bytes.LongLength));
            long downBytes = partials.Length * values.Values.Sum(v => v.Bytes.LongLength);
            // Idle share across stages: 1 - (sum of stage compute time) / (p x step wall time).
            double busy = partials.Sum(x => x.BusySeconds);
            double bubble = seconds > 0 ? Math.Clamp(1 - busy / (partials.Length * seconds), 0, 1) : 0;
            var metrics = run.RecordStep(last.LossSum, pending.LearningRate, shared, pending.Tokens, pending.TargetTokens, seconds, bubble,
                partials.Sum(x => x.ActivationBytesSent), upBytes + downBytes);
            summary = new StepMetricsSummary(metrics.Step, metrics.Loss, metrics.TokensPerSecond);
        }
        foreach (var r in _ready) r!.Stage.Tell(new StageProtocol.StepCommit(run.JobId, pending.Step, values, clip, pending.LearningRate));
        _pending = null;
        _status = _status with
        {
            Step = summary.Step,
            Loss = summary.Loss,
            TokensPerSecond = summary.TokensPerSecond,
            Message = $"step {summary.Step}/{run.Job.Steps}",
        };
        if (!double.IsFinite(summary.Loss))
        {
            Fail($"step {summary.Step}: the loss is {summary.Loss}; lower optim.lr or check the data");
            return;
        }
        if (run.StepsDone < run.Job.Steps) DispatchStep();
        else
        {
            _status = _status with { Message = "collecting the adapter from the stages" };
            foreach (var r in _ready) r!.Stage.Tell(new StageProtocol.CollectAdapter(run.JobId));
        }
    }

    private sealed record StepMetricsSummary(int Step, double Loss, double TokensPerSecond);

    private void OnStageAdapter(CoordinatorProtocol.StageAdapter m)
    {
        _adapters[m.StageIndex] = m.Values;
        if (_adapters.Any(a => a is null)) return;
        var run = _run!;
        string directory;
        try
        {
            using var scope = NewDisposeScope();
            var values = _adapters.SelectMany(a => a).ToDictionary(v => v.Key, v => v.Value.ToTensor());
            directory = run.SaveAdapter(values);
        }
        catch (Exception e)
        {
            Fail($"writing the adapter failed: {e.Message}");
            return;
        }
        run.Log.Information("done: {Steps} steps, final loss {Loss:0.0000}; adapter in {Adapter}", run.StepsDone, _status.Loss, directory);
        _log.Info("job {0} completed: {1} steps", run.JobId, run.StepsDone);
        _status = _status with { State = JobStatus.Completed, Message = $"completed {run.StepsDone} steps; adapter in {directory}" };
        EndJob();
        Become(Idle);
    }

    // ---- ending ----

    private void Fail(string reason)
    {
        var run = _run!;
        _log.Error("job {0} failed: {1}", run.JobId, reason);
        run.Log.Error("job {Id} failed at step {Step}: {Reason}", run.JobId, run.StepsDone + 1, reason);
        _status = _status with { State = JobStatus.Failed, Message = reason };
        EndJob();
        Become(Failed);
    }

    private void EndJob()
    {
        Timers.Cancel("start");
        StopStages();
        foreach (var r in _ready) if (r is not null) Context.Unwatch(r.Stage);
        _run?.Dispose();
        _run = null;
        _assignments = [];
        _ready = [];
        _connected = [];
        _partials = [];
        _adapters = [];
        _pending = null;
    }

    // Through the guardians' paths, so stages that are still loading (no reference yet) are stopped too.
    private void StopStages()
    {
        if (_run is null) return;
        foreach (var a in _assignments)
            Context.ActorSelection(new RootActorPath(a.Worker) / "user" / NodeGuardian.Name / StageActor.NameOf(_run.JobId, a.Index))
                .Tell(new StageProtocol.StopStage(_run.JobId));
    }
}
