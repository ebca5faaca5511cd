using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Cluster.Stages;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Evaluation;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Evaluation;

/// <summary>
/// One forward-only stage of an evaluation session on a worker: a thin shell around an <see cref="EvaluationStage"/>
/// that loads only its layers (and its slice of the adapter), receives each request from the session, takes the
/// previous stage's activations over the TCP data plane, and sends its own to the next stage; the last stage reads out
/// only what the request asks for (<see cref="LogitsReadout"/>) and reports it to the session. Greedy decodings keep a
/// KV cache per decoding id until the session ends them.
/// </summary>
/// <remarks>
/// Runs on the pinned stage dispatcher (<see cref="StageActor.DispatcherId"/>): TorchSharp dispose scopes and grad mode
/// are per thread, and awaits inside <c>ReceiveAsync</c> resume on that same thread through the mailbox, which also keeps
/// requests in the order the session sent them. Activations go over the data plane rather than Akka: a 5-shot MMLU batch
/// of a 7B model is ~40 MiB of fp32 activations, above Akka's 32 MiB frame, and bulk Akka traffic delays heartbeats.
/// Any failure is reported to the session as StageFailed naming this worker, and the stage stops; it also stops when
/// the session goes away.
/// </remarks>
public sealed class EvalStageActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly NodeProtocol.SpawnEvalStage _spec;
    private readonly string _device;
    private readonly string _node;
    private readonly TcpTransportOptions _dataPlane = DataPlaneSettings.For(Context.System);
    private readonly Dictionary<long, KvCache> _caches = [];
    private EvaluationStage? _stage;
    private TcpActivationListener? _listener;
    private IActivationTransport? _previous, _next;
    private bool _failed;

    private sealed record Load
    {
        public static readonly Load Instance = new();
    }

    public EvalStageActor(NodeProtocol.SpawnEvalStage spec, string device)
    {
        _spec = spec;
        _device = device;
        _node = Akka.Cluster.Cluster.Get(Context.System).SelfAddress.ToString();
        Receive<Load>(_ => LoadStage());
        ReceiveAsync<EvalProtocol.ConnectStage>(m => m.SessionId == _spec.SessionId, ConnectAsync);
        ReceiveAsync<EvalProtocol.StageForward>(m => m.SessionId == _spec.SessionId, ForwardAsync);
        Receive<EvalProtocol.StageEndDecoding>(m => m.SessionId == _spec.SessionId, m =>
        {
            if (_caches.Remove(m.DecodeId, out var cache)) cache.Dispose();
        });
        Receive<EvalProtocol.StopStage>(m => m.SessionId == _spec.SessionId, _ => Context.Stop(Self));
        Receive<Terminated>(t => t.ActorRef.Equals(_spec.Session), _ =>
        {
            _log.Info("eval stage {0} of session {1}: the session is gone; stopping", _spec.StageIndex, _spec.SessionId);
            Context.Stop(Self);
        });
    }

    public static Props Props(NodeProtocol.SpawnEvalStage spec, string device) =>
        Akka.Actor.Props.Create(() => new EvalStageActor(spec, device)).WithDispatcher(StageActor.DispatcherId);

    /// <summary>The actor name of a session's stage under its node guardian.</summary>
    public static string NameOf(string sessionId, int stageIndex) => $"eval-{sessionId}-{stageIndex}";

    private bool IsFirst => _spec.StageIndex == 0;
    private bool IsLast => _spec.StageIndex == _spec.Stages - 1;

    protected override void PreStart()
    {
        Context.Watch(_spec.Session);
        Self.Tell(Load.Instance);
    }

    private void LoadStage() => Guard("load", () =>
    {
        var watch = Stopwatch.StartNew();
        // A model or adapter missing on this worker fails here, naming the path; the session fails with it.
        _stage = EvaluationStage.Load(_spec.ModelDir, _spec.FirstLayer, _spec.EndLayer, _spec.AdapterDir, _device);
        _listener = NeighbourLinks.ListenUnlessFirst(Context.System, IsFirst, _dataPlane);
        _log.Info("eval stage {0} of session {1}: layers {2}-{3} loaded on {4} in {5:0.00} s", _spec.StageIndex, _spec.SessionId,
            _spec.FirstLayer, _spec.EndLayer - 1, _device, watch.Elapsed.TotalSeconds);
        _spec.Session.Tell(new EvalProtocol.StageReady(_spec.SessionId, _spec.StageIndex, Self, _node, _listener?.Address));
    });

    private async Task ConnectAsync(EvalProtocol.ConnectStage m)
    {
        if (_failed) return;
        try
        {
            var listener = _listener;
            _listener = null;
            (_previous, _next) = await NeighbourLinks.ConnectAsync(listener, m.Next, _dataPlane);
            _spec.Session.Tell(new EvalProtocol.StageConnected(_spec.SessionId, _spec.StageIndex));
        }
        catch (Exception e)
        {
            Fail("data-plane connection", e);
        }
    }

    private async Task ForwardAsync(EvalProtocol.StageForward m)
    {
        if (_failed) return;
        var tag = new ActivationTag(m.RequestId, 0, ActivationDirection.Forward);
        try
        {
            var request = m.Request.ToRequest();
            var config = _stage!.Model.Config;
            if (request.Problem(config.VocabSize, config.MaxPositionEmbeddings) is { } problem)
                throw new ArgumentException($"request {m.RequestId}: {problem}");
            Tensor? received = null;
            if (!IsFirst) received = (await _previous!.ReceiveAsync(tag)).ToTensor();
            KvCache? cache = null;
            if (m.DecodeId > 0 && !_caches.TryGetValue(m.DecodeId, out cache))
                _caches[m.DecodeId] = cache = new KvCache(m.CacheCapacity);
            TensorPayload? payload = null;
            EvaluationResult? result = null;
            using (received)
            using (var output = _stage.Forward(request, received, cache))
            {
                // fp32 on the wire: the next stage must see exactly the activations the single-process model computes.
                if (IsLast) result = LogitsReadout.Read(output, request);
                else payload = TensorPayload.FromTensor(output, WireDType.F32);
            }
            if (payload is not null) await _next!.SendAsync(tag, payload);
            else _spec.Session.Tell(new EvalProtocol.StageResult(_spec.SessionId, m.RequestId, result!.Values, result.NextToken));
        }
        catch (Exception e)
        {
            Fail($"request {m.RequestId}", e);
        }
    }

    private void Guard(string what, Action action)
    {
        if (_failed) return;
        try { action(); }
        catch (Exception e) { Fail(what, e); }
    }

    private void Fail(string what, Exception e)
    {
        if (_failed) return;
        _failed = true;
        var message = $"eval stage {_spec.StageIndex} on worker {_node}: {what} failed: {e.Message.Split('\n')[0]}";
        _log.Error(e, "{0}", message);
        _spec.Session.Tell(new EvalProtocol.StageFailed(_spec.SessionId, _spec.StageIndex, message));
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        foreach (var link in new[] { _previous, _next })
            if (link is not null)
                try { link.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds(3)); }
                catch (Exception) { /* the link is broken anyway */ }
        _listener?.Dispose();
        foreach (var cache in _caches.Values) cache.Dispose();
        _caches.Clear();
        _stage?.Dispose();
        _stage = null;
        _log.Info("eval stage {0} of session {1} stopped", _spec.StageIndex, _spec.SessionId);
    }
}
