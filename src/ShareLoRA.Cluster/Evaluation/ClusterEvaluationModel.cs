using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Model.Config;
using ShareLoRA.Training.Evaluation;

namespace ShareLoRA.Cluster.Evaluation;

/// <summary>
/// <see cref="IEvaluationModel"/> on a model split across the workers of a running cluster: a short-lived non-member
/// ActorSystem opens an <see cref="EvalSession"/> at the seed (through its ClusterClientReceptionist, as `status` and
/// `submit` do) and then sends each forward pass to the session directly. The evaluators run unchanged on top, and get
/// the single-process numbers: the stages run the same <see cref="EvaluationStage"/> code on fp32 activations.
/// Dispose closes the session, which stops the stages; if this process dies instead, the session sees its watch actor
/// terminate and stops them too.
/// </summary>
public sealed class ClusterEvaluationModel : IEvaluationModel, IDisposable
{
    private readonly ActorSystem _system;
    private readonly IActorRef _session;
    private readonly HostPort _seed;
    private readonly TimeSpan _requestTimeout;
    private readonly Task<string> _ended;
    private long _requests, _decodings;

    private ClusterEvaluationModel(ActorSystem system, IActorRef session, HostPort seed, LlamaConfig config, TimeSpan requestTimeout,
        EvalProtocol.SessionOpened opened, IActorRef lifeline, Lifeline.Ending ending)
    {
        _system = system;
        _session = session;
        _ended = ending.Reason.Task;
        lifeline.Tell(new Lifeline.WatchSession(session));
        _seed = seed;
        Config = config;
        _requestTimeout = requestTimeout;
        Stages = opened.Workers.Select((w, i) => (w, opened.FirstLayers[i], opened.EndLayers[i])).ToArray();
    }

    public LlamaConfig Config { get; }

    /// <summary>Per stage: the worker's address and its layer range [FirstLayer, EndLayer).</summary>
    public IReadOnlyList<(string Worker, int FirstLayer, int EndLayer)> Stages { get; }

    /// <summary>
    /// Opens a session over up to <paramref name="stages"/> Up workers (null = every Up worker, at most one per layer).
    /// <paramref name="modelDir"/> and <paramref name="adapterDir"/> must exist at the same paths on the workers;
    /// <paramref name="config"/> is the model's config.json as read here (positions, vocabulary, layer count). Throws
    /// <see cref="ClusterEvaluationException"/> when the seed does not answer or the session cannot start (with the
    /// cluster's one-line reason); requests fail the same way when the session ends.
    /// </summary>
    /// <param name="seed">The seed node whose receptionist hosts the evaluation service.</param>
    /// <param name="modelDir">The model folder, at this path on every worker.</param>
    /// <param name="adapterDir">The trained adapter folder, at this path on every worker, or null for the base model.</param>
    /// <param name="stages">How many stages to split the layers across (null = every Up worker, at most one per layer).</param>
    /// <param name="config">The model's config.json as read here.</param>
    /// <param name="tls">The client's TLS certificate and CA when the cluster runs mutual TLS, or null.</param>
    /// <param name="contactTimeout">How long to wait for the seed to acknowledge the request (default 30 s).</param>
    /// <param name="openTimeout">How long the stages may take to load once acknowledged (default 10 min: big models).</param>
    /// <param name="requestTimeout">How long one forward pass may take before it fails (default 10 min).</param>
    /// <param name="idleTimeout">How long the session waits without requests before it closes itself (default 10 min).</param>
    public static async Task<ClusterEvaluationModel> OpenAsync(HostPort seed, string modelDir, string? adapterDir, int? stages, LlamaConfig config,
        ClusterTls? tls = null, TimeSpan? contactTimeout = null, TimeSpan? openTimeout = null, TimeSpan? requestTimeout = null,
        TimeSpan? idleTimeout = null)
    {
        var config0 = ClusterConfig.ForClient(StatusClient.LocalHostToward(seed.Host), tls != null)
            .WithFallback(ClusterClientReceptionist.DefaultConfig());
        var system = AkkaTls.CreateSystem(ClusterConfig.SystemName + "-eval", config0, tls, rejections: null);
        try
        {
            var receptionist = ActorPath.Parse(ClusterConfig.AddressOf(seed, tls != null) + "/system/receptionist");
            var settings = ClusterClientSettings.Create(system).WithInitialContacts(ImmutableHashSet.Create(receptionist));
            var client = system.ActorOf(ClusterClient.Props(settings), "client");
            // Lives as long as this client: the session watches it to notice a client that disappears without closing,
            // and answers it directly (the receptionist's reply tunnel closes after 30 s, shorter than loading a big model).
            var ending = new Lifeline.Ending();
            var lifeline = system.ActorOf(Props.Create(() => new Lifeline(ending)), "eval-client");
            var open = new EvalProtocol.OpenSession(modelDir, adapterDir, stages ?? config.NumHiddenLayers, config.NumHiddenLayers, lifeline,
                (idleTimeout ?? TimeSpan.FromMinutes(10)).TotalSeconds);
            client.Tell(new ClusterClient.Send(EvalService.Path, open, localAffinity: true), lifeline);

            var contact = contactTimeout ?? TimeSpan.FromSeconds(30);
            var first = await Task.WhenAny(ending.Started.Task, ending.Outcome.Task, Task.Delay(contact)).ConfigureAwait(false);
            if (first != ending.Started.Task && first != ending.Outcome.Task)
                throw new ClusterEvaluationException(AkkaTls.IsTlsHandshakeFailure(CoordinatedShutdown.Get(system).ShutdownReason)
                    ? $"no answer from {seed}: the TLS handshake failed (is --cert issued by the cluster's CA, and --ca the CA that issued the seed's certificate?)"
                    : $"no answer from a cluster at {seed} within {contact.TotalSeconds:0} s (is a seed running there? is --seed right? " +
                      "a cluster running TLS answers only with --cert and --ca)");
            var load = openTimeout ?? TimeSpan.FromMinutes(10);
            if (await Task.WhenAny(ending.Outcome.Task, Task.Delay(load)).ConfigureAwait(false) != ending.Outcome.Task)
                throw new ClusterEvaluationException($"the cluster at {seed} did not load the evaluation stages within {load.TotalMinutes:0} minutes");
            return ending.Outcome.Task.Result switch
            {
                EvalProtocol.SessionOpened opened => new ClusterEvaluationModel(system, opened.Session, seed, config,
                    requestTimeout ?? TimeSpan.FromMinutes(10), opened, lifeline, ending),
                EvalProtocol.SessionFailed failed => throw new ClusterEvaluationException($"the cluster at {seed} could not start the evaluation: {failed.Reason}"),
                var other => throw new ClusterEvaluationException($"unexpected answer from the cluster at {seed}: {other.GetType().Name}"),
            };
        }
        catch
        {
            await Task.WhenAny(system.Terminate(), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
            throw;
        }
    }

    public EvaluationResult Run(EvaluationRequest request) => Send(request, decodeId: 0, capacity: 0);

    public IGreedyDecoder StartDecoding(int capacity) => new Decoder(this, Interlocked.Increment(ref _decodings), capacity);

    private EvaluationResult Send(EvaluationRequest request, long decodeId, int capacity)
    {
        if (request.Problem(Config.VocabSize, Config.MaxPositionEmbeddings) is { } problem) throw new ArgumentException(problem);
        long id = Interlocked.Increment(ref _requests);
        if (_ended.IsCompleted) throw new ClusterEvaluationException($"evaluation through the cluster at {_seed} failed: {_ended.Result}");
        object answer;
        try
        {
            var ask = _session.Ask<object>(new EvalProtocol.Forward(id, EvalProtocol.RequestData.From(request), decodeId, capacity), _requestTimeout);
            // A session that ends between requests answers nothing more: its notice (or its death) ends the wait at once.
            if (Task.WhenAny(ask, _ended).GetAwaiter().GetResult() != ask)
                throw new ClusterEvaluationException($"evaluation through the cluster at {_seed} failed: {_ended.Result}");
            answer = ask.GetAwaiter().GetResult();
        }
        catch (AskTimeoutException)
        {
            throw new ClusterEvaluationException($"no answer from the evaluation session at {_seed} within {_requestTimeout.TotalSeconds:0} s (did the seed stop?)");
        }
        return answer switch
        {
            EvalProtocol.Result r => new EvaluationResult(r.Values, r.NextToken),
            EvalProtocol.RequestFailed f => throw new ClusterEvaluationException($"evaluation through the cluster at {_seed} failed: {f.Reason}"),
            _ => throw new ClusterEvaluationException($"unexpected answer from the evaluation session: {answer.GetType().Name}"),
        };
    }

    public void Dispose()
    {
        try
        {
            // Waited for: a Tell could still sit in the outbound queue when the system below terminates.
            _session.Ask<EvalProtocol.SessionClosed>(new EvalProtocol.CloseSession(), TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            // The session is gone or unreachable; it stops its stages when it notices this client is gone.
        }
        Task.WhenAny(_system.Terminate(), Task.Delay(TimeSpan.FromSeconds(5))).GetAwaiter().GetResult();
    }

    private sealed class Decoder(ClusterEvaluationModel owner, long id, int capacity) : IGreedyDecoder
    {
        private int _length;

        public int Next(IReadOnlyList<int> tokens)
        {
            var result = owner.Send(EvaluationRequest.ForGreedyStep(tokens, _length), id, capacity);
            _length += tokens.Count;
            return result.NextToken;
        }

        public void Dispose() => owner._session.Tell(new EvalProtocol.EndDecoding(id));
    }

    /// <summary>
    /// This client's presence for the session (which watches it: its termination tells the session the client is gone),
    /// and the client's ear: the session's acknowledgement (<see cref="Ending.Started"/>), its opening or refusal
    /// (<see cref="Ending.Outcome"/>), and later its end — a <see cref="EvalProtocol.SessionFailed"/> notice, or its death
    /// (seed stopped or unreachable) — in <see cref="Ending.Reason"/>.
    /// </summary>
    private sealed class Lifeline : ReceiveActor
    {
        public sealed class Ending
        {
            public TaskCompletionSource<EvalProtocol.SessionStarting> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
            public TaskCompletionSource<object> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
            public TaskCompletionSource<string> Reason { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public sealed record WatchSession(IActorRef Session);

        public Lifeline(Ending ending)
        {
            Receive<EvalProtocol.SessionStarting>(m => ending.Started.TrySetResult(m));
            Receive<EvalProtocol.SessionOpened>(m => ending.Outcome.TrySetResult(m));
            Receive<WatchSession>(m => Context.Watch(m.Session));
            Receive<EvalProtocol.SessionFailed>(m =>
            {
                if (!ending.Outcome.TrySetResult(m)) ending.Reason.TrySetResult(m.Reason);
            });
            Receive<Terminated>(_ => ending.Reason.TrySetResult("the evaluation session ended (the seed stopped or became unreachable)"));
        }
    }
}
