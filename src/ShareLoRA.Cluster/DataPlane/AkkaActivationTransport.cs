using Akka.Actor;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// <see cref="IActivationTransport"/> over Akka.Remote: each tensor is one <see cref="DataPlaneProtocol.ActivationFrame"/>
/// message to the neighbour's endpoint actor. Flow control: at most <c>window</c> frames unacknowledged, and the
/// receiver acknowledges a frame only when its stage takes it. Simple and always available, but large frames share
/// the Akka connection with heartbeats; <see cref="TcpActivationTransport"/> is the fast path.
/// </summary>
public sealed class AkkaActivationTransport : IActivationTransport
{
    private readonly TaggedInbox _inbox;
    private readonly SemaphoreSlim _window;
    private readonly CancellationTokenSource _broken = new();
    private IActorRef? _peerEndpoint;

    private AkkaActivationTransport(ActorSystem system, string name, int window)
    {
        _inbox = new TaggedInbox(name);
        _window = new SemaphoreSlim(window, window);
        Endpoint = system.ActorOf(Props.Create(() => new ActivationEndpoint(_inbox, _window, _broken)), name);
    }

    /// <summary>Creates the local end: an endpoint actor named <paramref name="name"/> under /user.</summary>
    public static AkkaActivationTransport Create(ActorSystem system, string name, int window = 4) =>
        window < 1 ? throw new ArgumentException($"window must be >= 1 (got {window})") : new(system, name, window);

    /// <summary>The local endpoint actor: send it to the neighbour (in an actor message) so it can connect.</summary>
    public IActorRef Endpoint { get; }

    public string Peer => _peerEndpoint?.Path.ToString() ?? "(not connected)";

    /// <summary>Points this end at the neighbour's endpoint and watches it: if it dies, pending receives fail.</summary>
    public void Connect(IActorRef peerEndpoint)
    {
        _peerEndpoint = peerEndpoint;
        Endpoint.Tell(new ActivationEndpoint.WatchPeer(peerEndpoint));
    }

    public async ValueTask SendAsync(ActivationTag tag, TensorPayload payload, CancellationToken cancellationToken = default)
    {
        var peer = _peerEndpoint ?? throw new InvalidOperationException("AkkaActivationTransport: Connect before SendAsync");
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _broken.Token);
        try
        {
            // A peer that died never acks: the wait for window space ends when its endpoint is reported gone.
            await _window.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_broken.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"data-plane link to {Peer} is gone (actor stopped or node unreachable)");
        }
        if (_broken.IsCancellationRequested)
            throw new IOException($"data-plane link to {Peer} is gone (actor stopped or node unreachable)");
        // Sender = our endpoint, so the neighbour's ack comes back there and releases the window.
        peer.Tell(new DataPlaneProtocol.ActivationFrame(tag, payload), Endpoint);
    }

    public ValueTask<TensorPayload> ReceiveAsync(ActivationTag tag, CancellationToken cancellationToken = default) =>
        _inbox.TakeAsync(tag, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _inbox.Fail(new ObjectDisposedException(nameof(AkkaActivationTransport)));
        _broken.Cancel();
        try { await Endpoint.GracefulStop(TimeSpan.FromSeconds(3)).ConfigureAwait(false); }
        catch (Exception) { /* system already terminating */ }
    }

    /// <summary>Receives frames into the inbox and acks back to the sender when the stage takes them.</summary>
    private sealed class ActivationEndpoint : ReceiveActor
    {
        public sealed record WatchPeer(IActorRef Peer);

        public ActivationEndpoint(TaggedInbox inbox, SemaphoreSlim window, CancellationTokenSource broken)
        {
            Receive<DataPlaneProtocol.ActivationFrame>(frame =>
            {
                var replyTo = Sender;
                var self = Self;
                inbox.Put(frame.Tag, frame.Payload, () => replyTo.Tell(new DataPlaneProtocol.ActivationAck(frame.Tag), self));
            });
            Receive<DataPlaneProtocol.ActivationAck>(_ => window.Release());
            Receive<WatchPeer>(w => Context.Watch(w.Peer));
            Receive<Terminated>(t =>
            {
                inbox.Fail(new IOException($"data-plane link to {t.ActorRef.Path} is gone (actor stopped or node unreachable)"));
                broken.Cancel();
            });
        }
    }
}
