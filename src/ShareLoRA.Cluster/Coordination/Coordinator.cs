using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Cluster.Stages;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Trainer;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Coordination;

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

    // A SIGKILLed worker refuses connections at once, so a live worker answers well within this; the failure detector
    // and the split-brain resolver take far longer to decide (cluster-config/base.hocon).
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

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

    private sealed record PendingStep(int Step, double LearningRate, long TargetTokens, long Tokens, long StartTimestamp);

    /// <summary>An evaluation in flight after <paramref name="Step"/> committed steps; <paramref name="Metrics"/> is that
    /// step's line, written once the eval loss is in (null for the evaluation before the first step).</summary>
    private sealed record PendingEval(int Step, StepMetrics? Metrics, long TargetTokens, long StartTimestamp);

    // Eval batches per RunEval message: bounded like the data plane's frames, well under the Akka frame size.
    private const long EvalPartValues = 2_000_000;

    private sealed record StartTimedOut(string AttemptId);

    private sealed record ProbeResult(int Probe, Address[] Probed, Address[] Alive);

    /// <summary>A recovery in progress, from the loss to the first committed step after it.</summary>
    private sealed record Recovery(long LostAt, string Reason, int? Stage, Address[] Previous, int StepsDoneAtLoss, int StagesBefore)
    {
        public double DetectMs { get; set; }
        public int? FromStep { get; set; }
    }

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

    // The stage's layers of the checkpoint plus the shared masters, in bounded parts; they precede ConnectNeighbours.
    private bool SendRestoredState(CoordinatorProtocol.StageReady m)
    {
        var a = _assignments[m.StageIndex];
        try
        {
            var parts = CheckpointExchange.RestoreParts(_restore!, _run!, a.FirstLayer, a.EndLayer);
            for (int i = 0; i < parts.Count; i++)
                m.Stage.Tell(new StageProtocol.RestoreState(_attemptId, i, parts.Count, parts[i]));
            return true;
        }
        catch (Exception e)
        {
            Fail($"restoring stage {m.StageIndex} from {_restore?.Name}: {e.Message}");
            return false;
        }
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

    // Next step (after the evaluation before the first one, when due), or the end: the adapter from the stages.
    private void ContinueAfterStep()
    {
        var run = _run!;
        if (run.InitialEvalDue)
        {
            StartEval(null);
            return;
        }
        if (run.StepsDone < run.Job.Steps)
        {
            DispatchStep();
            return;
        }
        _status = _status with { Message = "collecting the adapter from the stages" };
        foreach (var r in _ready) r!.Stage.Tell(new StageProtocol.CollectAdapter(_attemptId));
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
                .Select(b => StageProtocol.MicroBatchData.For(b, first, last))
                .ToArray();
            _ready[i]!.Stage.Tell(new StageProtocol.RunStep(_attemptId, step, Math.Max(1, targets), micro));
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
        StepMetrics metrics;
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
            metrics = run.CompleteStep(last.LossSum, pending.LearningRate, shared, pending.Tokens, pending.TargetTokens, seconds, bubble,
                partials.Sum(x => x.ActivationBytesSent), upBytes + downBytes);
        }
        foreach (var r in _ready) r!.Stage.Tell(new StageProtocol.StepCommit(_attemptId, pending.Step, values, clip, pending.LearningRate));
        _pending = null;
        // The evaluation follows the commit on the same channels, so the stages evaluate the updated weights.
        if (double.IsFinite(metrics.Loss) && run.EvalDue(metrics.Step)) StartEval(metrics);
        else FinishStep(metrics);
    }

    // The step's line (with its eval loss when it evaluated), status, then a checkpoint or the next step.
    private void FinishStep(StepMetrics metrics)
    {
        var run = _run!;
        run.WriteStep(metrics);
        _status = _status with
        {
            Step = metrics.Step,
            Loss = metrics.Loss,
            TokensPerSecond = metrics.TokensPerSecond,
            Message = $"step {metrics.Step}/{run.Job.Steps}",
        };
        if (!double.IsFinite(metrics.Loss))
        {
            Fail($"step {metrics.Step}: the loss is {metrics.Loss}; lower optim.lr or check the data");
            return;
        }
        if (_recovery is { FromStep: { } from } recovery)
        {
            run.RecordRecovered(from, recovery.StagesBefore, _ready.Length, recovery.DetectMs, Stopwatch.GetElapsedTime(recovery.LostAt).TotalSeconds);
            _recovery = null;
        }
        if (run.CheckpointDue(run.StepsDone)) StartCheckpoint();
        else
        {
            Become(Running);
            ContinueAfterStep();
        }
    }

    // ---- evaluation ----

    // The eval batches to every stage in bounded parts (ids to the first, labels to the last, masks to all), as one
    // forward-only run after the committed step; the stages answer EvalPartial once they have done every part.
    private void StartEval(StepMetrics? metrics)
    {
        var run = _run!;
        int step = run.StepsDone, p = _ready.Length;
        var batches = run.EvalBatches;
        _evaluating = new PendingEval(step, metrics, run.EvalTargets(), Stopwatch.GetTimestamp());
        _evalPartials = new CoordinatorProtocol.EvalPartial?[p];
        var parts = new List<(int First, int Count)>();
        for (int first = 0; first < batches.Count;)
        {
            int count = 0;
            long values = 0;
            // At least one batch per part; then as many as fit the budget (ids, labels and mask per token).
            while (first + count < batches.Count && (count == 0 || values + 3L * batches[first + count].Rows * batches[first + count].Columns <= EvalPartValues))
            {
                values += 3L * batches[first + count].Rows * batches[first + count].Columns;
                count++;
            }
            parts.Add((first, count));
            first += count;
        }
        for (int i = 0; i < p; i++)
        {
            bool firstStage = i == 0, lastStage = i == p - 1;
            for (int k = 0; k < parts.Count; k++)
            {
                var (first, count) = parts[k];
                var micro = batches.Skip(first).Take(count)
                    .Select(b => StageProtocol.MicroBatchData.For(b, firstStage, lastStage))
                    .ToArray();
                _ready[i]!.Stage.Tell(new StageProtocol.RunEval(_attemptId, step, k, parts.Count, first, micro));
            }
        }
        _status = _status with { Message = $"evaluating after step {step}/{run.Job.Steps} ({batches.Count} eval batch(es))" };
        Become(Evaluating);
    }

    private void OnEvalPartial(CoordinatorProtocol.EvalPartial m)
    {
        var pending = _evaluating;
        if (pending is null || m.Step != pending.Step) return;
        _evalPartials[m.StageIndex] = m;
        if (_evalPartials.Any(x => x is null)) return;
        var last = _evalPartials[^1]!;
        _evaluating = null;
        var run = _run!;
        if (last.TargetTokens != pending.TargetTokens)
        {
            Fail($"evaluation after step {pending.Step}: the last stage counted {last.TargetTokens} target tokens, the eval set {pending.TargetTokens}");
            return;
        }
        double evalLoss = JobRun.EvalLoss(last.LossSum, last.TargetTokens);
        EvalMetrics? evalMetrics;
        try { evalMetrics = run.EvalMetrics(last.RowPredictions); }
        catch (ArgumentException e)
        {
            Fail($"evaluation after step {pending.Step}: {e.Message}");
            return;
        }
        run.Log.Debug("evaluation after step {Step}: {Seconds:0.000} s, {Bytes} activation bytes", pending.Step,
            Stopwatch.GetElapsedTime(pending.StartTimestamp).TotalSeconds, _evalPartials.Sum(x => x!.ActivationBytesSent));
        _status = _status with { EvalLoss = evalLoss, EvalStep = pending.Step, EvalMetrics = JobStatus.MetricsOf(evalMetrics) };
        if (pending.Metrics is { } metrics)
        {
            FinishStep(metrics with { EvalLoss = evalLoss, EvalMetrics = evalMetrics });
            return;
        }
        var initial = new EvalResult(evalLoss, evalMetrics);
        run.RecordInitialEval(initial);
        _status = _status with { Message = $"step {run.StepsDone}/{run.Job.Steps}; {initial.Describe()}" };
        Become(Running);
        ContinueAfterStep();
    }

    // ---- checkpoints ----

    // After the commit (sent first on the same channel to each stage), so every stage exports the committed state.
    private void StartCheckpoint()
    {
        var run = _run!;
        _collecting = new StageStateCollector(_ready.Length, run.StepsDone);
        _collectStart = Stopwatch.GetTimestamp();
        _status = _status with { Message = $"saving checkpoint step {run.StepsDone}" };
        foreach (var r in _ready) r!.Stage.Tell(new StageProtocol.CollectState(_attemptId, run.StepsDone));
        Become(Checkpointing);
    }

    private void OnStageStatePart(CoordinatorProtocol.StageStatePart m)
    {
        var collecting = _collecting!;
        if (!collecting.Add(m.StageIndex, m.Step, m.Parts, m.State)) return;
        var run = _run!;
        CheckpointExchange.Saved saved;
        try
        {
            saved = CheckpointExchange.Save(run, collecting, _ready.Length, _status.Loss, _collectStart);
        }
        catch (Exception e)
        {
            Fail($"checkpoint step {collecting.Step} could not be saved: {e.Message.Split('\n')[0]}");
            return;
        }
        _collecting = null;
        RecordCheckpoint(run, saved);
    }

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
        EndJob(Idle);
    }

    // ---- recovery ----

    // While stages restart after a loss, status messages say so: `submit --wait` prints them, and they explain why the
    // step counter went back to the checkpoint's.
    private string RecoveryPrefix() =>
        _recovery is { FromStep: { } from } r ? $"recovering (lost a stage at step {r.StepsDoneAtLoss + 1}; continuing from step {from}): " : "";

    // A stage's worker is gone (or its link broke): drop the attempt, then find out who is alive.
    private void OnLoss(string reason, int? stage)
    {
        var run = _run!;
        _log.Warning("job {0}: {1}; recovering", run.JobId, reason);
        run.Log.Warning("lost a stage at step {Step}: {Reason}; recovering from the last checkpoint", run.StepsDone + 1, reason);
        _recovery = new Recovery(Stopwatch.GetTimestamp(), reason, stage, _assignments.Select(a => a.Worker).ToArray(), run.StepsDone, _assignments.Length);
        DropAttempt();
        _status = _status with { State = JobStatus.Recovering, Message = $"{reason}; checking which workers are alive", Stages = [] };
        Become(Recovering);
        Probe();
    }

    // Asks every known worker's node guardian to identify itself: a dead process never answers, a live one at once.
    private void Probe()
    {
        int probe = ++_probe;
        var candidates = UpWorkers().ToArray();
        var asks = candidates.Select(a => Identify(Context.ActorSelection(new RootActorPath(a) / "user" / NodeGuardian.Name), a)).ToArray();
        Task.WhenAll(asks).PipeTo(Self, success: alive => new ProbeResult(probe, candidates, alive.OfType<Address>().ToArray()));
    }

    private static async Task<Address?> Identify(ActorSelection guardian, Address worker)
    {
        try
        {
            var identity = await guardian.Ask<ActorIdentity>(new Identify(worker), ProbeTimeout).ConfigureAwait(false);
            return identity.Subject is null ? null : worker;
        }
        catch (Exception)
        {
            return null; // no answer in time: treated as dead
        }
    }

    private void OnProbeResult(ProbeResult m)
    {
        var run = _run!;
        var recovery = _recovery!;
        var decision = RecoveryPlanner.Decide(run.Job.Pipeline.Stages, recovery.Previous, m.Alive, _recoveries);
        if (recovery.FromStep is null)
        {
            recovery.DetectMs = Stopwatch.GetElapsedTime(recovery.LostAt).TotalMilliseconds;
            if (decision.Action == RecoveryAction.GiveUp)
            {
                Fail($"{decision.Message}; last loss: {recovery.Reason}");
                return;
            }
            _recoveries++;
            if (!Rewind(recovery, decision)) return;
        }
        run.Log.Information("probe: {Alive} of {Probed} worker(s) alive; {Decision}", m.Alive.Length, m.Probed.Length, decision.Message);
        if (decision.Action == RecoveryAction.WaitForWorkers)
        {
            _status = _status with { Message = $"{decision.Message}; will continue from step {recovery.FromStep} when one joins" };
            return;
        }
        if (decision.Stages != run.Plan.Stages.Count) run.Replan(decision.Stages);
        StartAttempt(decision.Workers);
    }

    // Reloads the last committed checkpoint (or step 0) into the run, rewinds metrics.jsonl, records the loss there.
    private bool Rewind(Recovery recovery, RecoveryDecision decision)
    {
        var run = _run!;
        try
        {
            _restore = run.RewindToLatestCheckpoint();
        }
        catch (Exception e)
        {
            Fail($"recovery could not reload the last checkpoint: {e.Message.Split('\n')[0]}");
            return false;
        }
        recovery.FromStep = run.StepsDone;
        var lostStages = decision.Lost.Select(w => Array.IndexOf(recovery.Previous, w)).Where(i => i >= 0).ToList();
        if (lostStages.Count == 0 && recovery.Stage is { } s) lostStages.Add(s);
        run.RecordWorkerLost(decision.Lost.Count > 0 ? string.Join(",", decision.Lost) : "none (all workers answered)",
            string.Join(",", lostStages), recovery.Reason, recovery.StepsDoneAtLoss + 1);
        return true;
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
