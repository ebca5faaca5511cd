using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Planning;
using ShareLoRA.Training.Trainer;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Stages;

/// <summary>
/// One pipeline stage of a job on a worker: a thin shell around a <see cref="PipelineStage"/> that loads only its
/// layers, opens the data-plane links to its neighbours, runs each step's ops in the job's schedule (activations
/// forward to the next stage and gradients back to the previous one, directly over <see cref="IActivationTransport"/>),
/// reports its partial shared gradients to the coordinator and applies the coordinator's commit.
/// </summary>
/// <remarks>
/// Runs on its own pinned dispatcher (<see cref="DispatcherId"/>): TorchSharp dispose scopes and grad mode are
/// per thread, and awaits inside <c>ReceiveAsync</c> resume through the actor's mailbox on that same thread.
/// Any failure is reported to the coordinator as StageFailed naming this worker, and the stage stops.
/// </remarks>
public sealed class StageActor : ReceiveActor
{
    /// <summary>HOCON path of the stage dispatcher (cluster-config/base.hocon).</summary>
    public const string DispatcherId = "sharelora.stage-dispatcher";


    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly StageProtocol.SpawnStage _spec;
    private readonly string _device;
    private readonly string _node;
    private PipelineStage? _stage;
    private PipelineSchedule? _schedule;
    private WireDType _wire;
    private TcpActivationListener? _listener;
    // The node's data-plane options (frame cap, TLS identity), read once on the actor's own thread.
    private readonly TcpTransportOptions _dataPlane = DataPlaneSettings.For(Context.System);
    private IActivationTransport? _previous, _next;
    private bool _failed;
    private readonly List<StatePart> _restoreParts = [];
    private EvalProgress? _eval;

    // An evaluation across its RunEval parts: the last stage's loss sum in batch order, as the local trainer sums it, and
    // a sequence-level head's row predictions appended in batch order (parts arrive in order and run one at a time).
    private sealed class EvalProgress(int step)
    {
        public int Step { get; } = step;
        public int NextBatch { get; set; }
        public List<float>? Predictions { get; set; }
        public double LossSum { get; set; }
        public long Targets { get; set; }
        public double Busy { get; set; }
        public long Sent { get; set; }
    }

    private sealed record Load
    {
        public static readonly Load Instance = new();
    }

    public StageActor(StageProtocol.SpawnStage spec, string device)
    {
        _spec = spec;
        _device = device;
        _node = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<Load>(_ => LoadStage());
        ReceiveAsync<StageProtocol.ConnectNeighbours>(m => m.JobId == _spec.JobId, ConnectAsync);
        ReceiveAsync<StageProtocol.RunStep>(m => m.JobId == _spec.JobId, RunStepAsync);
        Receive<StageProtocol.StepCommit>(m => m.JobId == _spec.JobId, Commit);
        ReceiveAsync<StageProtocol.RunEval>(m => m.JobId == _spec.JobId, RunEvalAsync);
        Receive<StageProtocol.CollectAdapter>(m => m.JobId == _spec.JobId, _ => Guard("adapter collection", () =>
        {
            // Per-layer adapter tensors, and on a RoBERTa last stage the trained classifier head ("head.*").
            var values = _stage!.LocalParameters.Select(p => (p.Name, p.Value)).Concat(_stage.HeadParameters)
                .ToDictionary(p => p.Name, p => TensorPayload.FromTensor(p.Value));
            _spec.Coordinator.Tell(new CoordinatorProtocol.StageAdapter(_spec.JobId, _spec.StageIndex, values));
        }));
        Receive<StageProtocol.RestoreState>(m => m.JobId == _spec.JobId, OnRestoreState);
        Receive<StageProtocol.CollectState>(m => m.JobId == _spec.JobId, SendState);
        Receive<StageProtocol.StopStage>(m => m.JobId == _spec.JobId, _ => Context.Stop(Self));
        Receive<Terminated>(t => t.ActorRef.Equals(_spec.Coordinator), _ =>
        {
            _log.Warning("stage {0} of job {1}: the coordinator is gone; stopping", _spec.StageIndex, _spec.JobId);
            Context.Stop(Self);
        });
    }

    public static Props Props(StageProtocol.SpawnStage spec, string device) =>
        Akka.Actor.Props.Create(() => new StageActor(spec, device)).WithDispatcher(DispatcherId);

    /// <summary>The actor name of a job attempt's stage under its node guardian.</summary>
    public static string NameOf(string jobId, int stageIndex) => $"stage-{jobId}-{stageIndex}";

    private bool IsFirst => _spec.StageIndex == 0;
    private bool IsLast => _spec.StageIndex == _spec.Stages - 1;

    protected override void PreStart()
    {
        Context.Watch(_spec.Coordinator);
        Self.Tell(Load.Instance);
    }

    private void LoadStage() => Guard("load", () =>
    {
        var job = JobConfig.Parse(_spec.JobJson, $"job {_spec.JobId}", "/");
        // A model directory missing on this worker fails here, naming the path; the coordinator fails the job with it.
        var (_, layout) = LocalPipelineTrainer.ResolveModelShape(job);
        var optimizer = new AdamWSettings(job.Optim.Lr, job.Optim.Betas.Beta1, job.Optim.Betas.Beta2, job.Optim.Eps, job.Optim.WeightDecay);
        var watch = Stopwatch.StartNew();
        _stage = PipelineStage.Load(job.Model, _spec.StageIndex, _spec.FirstLayer, _spec.EndLayer, IsFirst, IsLast,
            layout, job.Seed, optimizer, LocalPipelineTrainer.ScalarTypeOf(job.Dtype), _device, LocalPipelineTrainer.LabelSmoothingOf(job));
        var kind = job.Pipeline.Schedule == "gpipe" ? ScheduleKind.GPipe : ScheduleKind.OneFOneB;
        _schedule = PipelineSchedule.Create(kind, _spec.Stages, job.Batch.MicroBatches);
        _wire = job.Pipeline.WireDtype == "bf16" ? WireDType.Bf16 : WireDType.F32;
        // The node's data-plane options: the frame cap from HOCON and, when the node has a certificate, mutual TLS.
        _listener = NeighbourLinks.ListenUnlessFirst(Context.System, IsFirst, _dataPlane);
        _log.Info("stage {0} of job {1}: layers {2}-{3} loaded on {4} in {5:0.00} s", _spec.StageIndex, _spec.JobId,
            _spec.FirstLayer, _spec.EndLayer - 1, _device, watch.Elapsed.TotalSeconds);
        _spec.Coordinator.Tell(new CoordinatorProtocol.StageReady(_spec.JobId, _spec.StageIndex, Self, _node, _device, _listener?.Address));
    });

    private async Task ConnectAsync(StageProtocol.ConnectNeighbours m)
    {
        try
        {
            var listener = _listener;
            _listener = null;
            (_previous, _next) = await NeighbourLinks.ConnectAsync(listener, m.Next, _dataPlane);
            _spec.Coordinator.Tell(new CoordinatorProtocol.StageConnected(_spec.JobId, _spec.StageIndex));
        }
        catch (Exception e)
        {
            // A neighbour that cannot be reached is most likely a lost worker: the coordinator recovers.
            Fail("data-plane connection", e, recoverable: true);
        }
    }

    private async Task RunStepAsync(StageProtocol.RunStep m)
    {
        if (_failed) return;
        var stage = _stage!;
        var inputs = m.MicroBatches.Select(ToTensors).ToList();
        var losses = new double[inputs.Count];
        long targets = 0, sent = 0;
        double busy = 0;
        bool onLink = false; // set while waiting on a neighbour: a failure there means a broken link, not a bad step
        try
        {
            foreach (var op in _schedule!.For(_spec.StageIndex))
            {
                int mb = op.MicroBatch;
                var input = inputs[mb];
                if (op.Kind == PipelineOpKind.Forward)
                {
                    Tensor? received = null;
                    if (!IsFirst)
                    {
                        onLink = true;
                        received = (await _previous!.ReceiveAsync(new ActivationTag(m.Step, mb, ActivationDirection.Forward))).ToTensor();
                        onLink = false;
                    }
                    long start = Stopwatch.GetTimestamp();
                    TensorPayload? payload = null;
                    using (received)
                    {
                        var result = stage.Forward(m.Step, mb, received ?? input.InputIds, input.AttentionMask, IsLast ? input.Labels : null, m.LossDivisor);
                        if (result.Activation is { } activation)
                            using (activation) payload = TensorPayload.FromTensor(activation, _wire);
                        else
                        {
                            losses[mb] = result.LossSum!.Value;
                            targets += result.TargetTokens;
                        }
                    }
                    busy += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    if (payload is not null)
                    {
                        onLink = true;
                        await _next!.SendAsync(new ActivationTag(m.Step, mb, ActivationDirection.Forward), payload);
                        onLink = false;
                        sent += payload.Bytes.LongLength;
                    }
                }
                else
                {
                    Tensor? gradient = null;
                    if (!IsLast)
                    {
                        onLink = true;
                        gradient = (await _next!.ReceiveAsync(new ActivationTag(m.Step, mb, ActivationDirection.Backward))).ToTensor();
                        onLink = false;
                    }
                    long start = Stopwatch.GetTimestamp();
                    TensorPayload? payload = null;
                    using (gradient)
                    {
                        var back = stage.Backward(mb, gradient);
                        if (back is not null)
                            using (back) payload = TensorPayload.FromTensor(back, _wire);
                    }
                    busy += Stopwatch.GetElapsedTime(start).TotalSeconds;
                    if (payload is not null)
                    {
                        onLink = true;
                        await _previous!.SendAsync(new ActivationTag(m.Step, mb, ActivationDirection.Backward), payload);
                        onLink = false;
                        sent += payload.Bytes.LongLength;
                    }
                }
            }
            long reportStart = Stopwatch.GetTimestamp();
            var grads = stage.SharedGradients();
            Dictionary<string, TensorPayload> partial;
            try { partial = grads.ToDictionary(g => g.Key, g => TensorPayload.FromTensor(g.Value)); }
            finally { foreach (var g in grads.Values) g.Dispose(); }
            double localNorm = stage.LocalGradNormSquared();
            busy += Stopwatch.GetElapsedTime(reportStart).TotalSeconds;
            // Summed in micro-batch order, as the single-process trainer does, so the step loss is bitwise the same.
            _spec.Coordinator.Tell(new CoordinatorProtocol.StepPartial(_spec.JobId, m.Step, _spec.StageIndex, partial, localNorm,
                losses.Sum(), targets, busy, sent));
        }
        catch (Exception e)
        {
            Fail($"step {m.Step + 1}", e, recoverable: onLink);
        }
        finally
        {
            foreach (var t in inputs) t.Dispose();
        }
    }

    // Forward-only, in batch order: the first stage embeds, every stage runs its layers without dropout or graph, the last
    // sums the token losses. The mailbox waits while this runs, so no step starts before the evaluation is over.
    private async Task RunEvalAsync(StageProtocol.RunEval m)
    {
        if (_failed) return;
        var stage = _stage!;
        if (m.Part == 0) _eval = new EvalProgress(m.Step);
        var eval = _eval;
        if (eval is null || eval.Step != m.Step)
        {
            Fail($"evaluation after step {m.Step}", new InvalidOperationException($"part {m.Part} of {m.Parts} arrived without its first part"));
            return;
        }
        if (m.FirstBatch != eval.NextBatch)
        {
            Fail($"evaluation after step {m.Step}", new InvalidOperationException($"part {m.Part} starts at eval batch {m.FirstBatch}, expected {eval.NextBatch}"));
            return;
        }
        eval.NextBatch += m.Batches.Length;
        bool onLink = false;
        try
        {
            for (int k = 0; k < m.Batches.Length; k++)
            {
                var tag = new ActivationTag(m.Step, m.FirstBatch + k, ActivationDirection.Eval);
                Tensor? received = null;
                if (!IsFirst)
                {
                    onLink = true;
                    received = (await _previous!.ReceiveAsync(tag)).ToTensor();
                    onLink = false;
                }
                long start = Stopwatch.GetTimestamp();
                TensorPayload? payload = null;
                using (received)
                using (var input = ToTensors(m.Batches[k]))
                {
                    var result = stage.ForwardEval(received ?? input.InputIds, input.AttentionMask, IsLast ? input.Labels : null);
                    if (result.Activation is { } activation)
                        using (activation) payload = TensorPayload.FromTensor(activation, _wire);
                    else
                    {
                        eval.LossSum += result.LossSum!.Value;
                        eval.Targets += result.TargetTokens;
                        if (result.RowPredictions is { } p) (eval.Predictions ??= []).AddRange(p);
                    }
                }
                eval.Busy += Stopwatch.GetElapsedTime(start).TotalSeconds;
                if (payload is not null)
                {
                    onLink = true;
                    await _next!.SendAsync(tag, payload);
                    onLink = false;
                    eval.Sent += payload.Bytes.LongLength;
                }
            }
            if (m.Part < m.Parts - 1) return;
            _eval = null;
            _spec.Coordinator.Tell(new CoordinatorProtocol.EvalPartial(_spec.JobId, m.Step, _spec.StageIndex, eval.LossSum, eval.Targets, eval.Busy, eval.Sent,
                eval.Predictions?.ToArray()));
        }
        catch (Exception e)
        {
            Fail($"evaluation after step {m.Step}", e, recoverable: onLink);
        }
    }

    private void Commit(StageProtocol.StepCommit m) => Guard($"commit of step {m.Step + 1}", () =>
    {
        var values = m.SharedValues.ToDictionary(v => v.Key, v => v.Value.ToTensor());
        try
        {
            // Same order as the single-process trainer: own AdamW step with the global clip, new shared values, zero grads.
            _stage!.StepLocal(m.LearningRate, m.ClipCoefficient);
            _stage.SetSharedValues(values);
            _stage.ZeroGrad();
        }
        finally
        {
            foreach (var t in values.Values) t.Dispose();
        }
    });

    // Parts arrive in order after StageReady and before ConnectNeighbours; the last one imports everything at once.
    private void OnRestoreState(StageProtocol.RestoreState m) => Guard("restore", () =>
    {
        _restoreParts.Add(m.State);
        if (_restoreParts.Count < m.Parts) return;
        var (state, shared) = StageStateWire.Decode(_restoreParts, $"restore of stage {_spec.StageIndex}");
        _restoreParts.Clear();
        using (state)
        {
            try
            {
                _stage!.ImportState(state, $"restore of stage {_spec.StageIndex} (layers {_spec.FirstLayer}-{_spec.EndLayer - 1})");
                _stage.SetSharedValues(shared);
            }
            finally
            {
                foreach (var t in shared.Values) t.Dispose();
            }
        }
        _log.Info("stage {0} of job {1}: restored {2} per-layer tensor(s) and their optimizer state", _spec.StageIndex, _spec.JobId, state.Values.Count);
    });

    // At a step boundary (the commit came first on this same channel): values and AdamW state in bounded parts.
    private void SendState(StageProtocol.CollectState m) => Guard($"state export after step {m.Step}", () =>
    {
        using var state = _stage!.ExportState();
        var parts = StageStateWire.Encode(state);
        for (int i = 0; i < parts.Count; i++)
            _spec.Coordinator.Tell(new CoordinatorProtocol.StageStatePart(_spec.JobId, _spec.StageIndex, m.Step, i, parts.Count, parts[i]));
    });

    private BatchTensors ToTensors(StageProtocol.MicroBatchData b)
    {
        int n = b.Rows * b.Columns;
        // Stages get only what they use; the other fields are filled so one tensor type serves every stage.
        var batch = new Batch(b.Rows, b.Columns, b.InputIds ?? new int[n], b.Labels ?? Enumerable.Repeat(TokenizedExample.IgnoreIndex, n).ToArray(),
            b.AttentionMask, []) { RowLabels = b.RowLabels };
        return BatchTensors.From(batch, device(_device));
    }

    private void Guard(string what, Action action)
    {
        if (_failed) return;
        try { action(); }
        catch (Exception e) { Fail(what, e); }
    }

    private void Fail(string what, Exception e, bool recoverable = false)
    {
        if (_failed) return;
        _failed = true;
        var message = $"stage {_spec.StageIndex} on worker {_node}: {what} failed: {e.Message.Split('\n')[0]}";
        _log.Error(e, "{0}", message);
        _spec.Coordinator.Tell(new CoordinatorProtocol.StageFailed(_spec.JobId, _spec.StageIndex, message, recoverable));
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        foreach (var link in new[] { _previous, _next })
            if (link is not null)
                try { link.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(3)); }
                catch (Exception) { /* the link is broken anyway */ }
        _listener?.Dispose();
        _stage?.Dispose();
        _stage = null;
    }
}
