using Akka.Actor;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// How a pipeline stage (training <c>StageActor</c> or <c>EvalStageActor</c>) opens its data-plane links: every stage but
/// the first listens on its node's cluster host for the previous stage; once the coordinator or session sends the next
/// stage's address, it accepts the previous stage and dials the next one at the same time, within one timeout.
/// </summary>
public static class NeighbourLinks
{
    /// <summary>How long accepting and dialling may take together.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A listener for the previous stage on this node's cluster host, or null on the first stage.</summary>
    public static TcpActivationListener? ListenUnlessFirst(ActorSystem system, bool isFirst, TcpTransportOptions options)
    {
        if (isFirst) return null;
        var host = Akka.Cluster.Cluster.Get(system).SelfAddress.Host ?? "127.0.0.1";
        return TcpActivationListener.Start(host, 0, options: options);
    }

    /// <summary>
    /// Accepts the previous stage on <paramref name="listener"/> (when there is one) and dials <paramref name="next"/>
    /// (when there is one); the listener is disposed afterwards, and on failure no link is left open.
    /// </summary>
    public static async Task<(IActivationTransport? Previous, IActivationTransport? Next)> ConnectAsync(
        TcpActivationListener? listener, DataPlaneAddress? next, TcpTransportOptions options)
    {
        try
        {
            using var timeout = new CancellationTokenSource(ConnectTimeout);
            var accept = listener?.AcceptAsync(timeout.Token);
            var connect = next is { } address ? TcpActivationTransport.ConnectAsync(address, options, cancellationToken: timeout.Token) : null;
            IActivationTransport? previous = accept is null ? null : await accept;
            try
            {
                IActivationTransport? following = connect is null ? null : await connect;
                return (previous, following);
            }
            catch
            {
                // The stage fails; the accepted link is not returned, so it is closed here.
                if (previous is not null) await previous.DisposeAsync();
                throw;
            }
        }
        finally
        {
            listener?.Dispose();
        }
    }
}
