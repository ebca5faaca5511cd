using System.Runtime.InteropServices;
using Serilog;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Logging;
using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cluster.Hosting;

/// <summary>
/// Runs a node for the life of its process. A seed ends with its ActorSystem. A worker whose membership ended —
/// downed by the split-brain resolver, or left without any seed-role node because the seed was killed or stopped
/// (<see cref="NodeExitCodes.EndsMembershipOnly"/>) — cannot rejoin with the same ActorSystem, so it waits (bounded
/// backoff, <see cref="RejoinPolicy"/>), starts a new one with the same options (same host and --port; with port 0 a
/// new free port) and joins the seed again, for as long as it takes: a seed that never comes back leaves the worker
/// trying (Akka retries the join itself and logs each unsuccessful round). A stop request (SIGTERM, SIGINT) ends it at
/// once with <see cref="NodeExitCodes.Stopped"/>; any other end (fatal error, TLS handshake failure, a new ActorSystem
/// that cannot start) ends the process with its exit code.
/// </summary>
public static class NodeRunner
{
    /// <summary>Runs <paramref name="first"/> and its successors until SIGTERM or SIGINT (a graceful leave) or a final end.</summary>
    public static async Task<int> RunUntilSignalAsync(NodeHost first)
    {
        // Not disposed: a signal handler already dispatched may still run after the registrations are disposed.
        var stop = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            // Keep the runtime from exiting at once; CoordinatedShutdown leaves the cluster, then the runner returns.
            context.Cancel = true;
            first.Log.Information("{Node} received {Signal}: leaving the cluster", NodeLogging.Node, context.Signal);
            stop.Cancel();
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        return await RunAsync(first, stop.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="first"/> until it ends; for a worker with rejoining on whose membership ended, starts the next
    /// incarnation with <paramref name="start"/> (default <see cref="NodeHost.Start"/> with the same options and logger).
    /// Cancelling <paramref name="stop"/> stops the current incarnation gracefully (or the wait between two) and returns
    /// <see cref="NodeExitCodes.Stopped"/>. Returns the process exit code.
    /// </summary>
    public static async Task<int> RunAsync(NodeHost first, CancellationToken stop, Func<NodeOptions, NodeHost>? start = null)
    {
        start ??= options => NodeHost.Start(options, first.Log);
        var log = first.Log;
        var node = first;
        int attempt = 0;
        while (true)
        {
            int code;
            var current = node;
            using (stop.Register(() => _ = current.StopAsync()))
                code = await current.WhenExited.ConfigureAwait(false);
            if (stop.IsCancellationRequested)
            {
                log.Information("{Node} stopped (exit code {Code})", current.Label, NodeExitCodes.Stopped);
                return NodeExitCodes.Stopped;
            }
            if (!current.Rejoin.Enabled || !NodeExitCodes.EndsMembershipOnly(code))
                return LogFinalExit(current, code);

            attempt = current.WasUp ? 1 : attempt + 1;
            var delay = current.Rejoin.DelayBefore(attempt);
            log.Warning("{Node} {Cause}; starting a new ActorSystem to join the seed {Seed} again in {DelaySeconds} s (attempt {Attempt})",
                current.Label, CauseOf(code), current.Options.Seed?.ToString(), delay.TotalSeconds, attempt);
            try
            {
                await Task.Delay(delay, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                log.Information("{Node} stopped while waiting to rejoin (exit code {Code})", current.Label, NodeExitCodes.Stopped);
                return NodeExitCodes.Stopped;
            }
            try
            {
                node = start(current.Options);
            }
            catch (Exception e)
            {
                // The first start's checks passed with the same options: what fails now (port taken meanwhile, a certificate
                // file gone) will not mend by itself, so the process ends as a failed first start would.
                log.Error(e, "{Node} cannot start a new ActorSystem to rejoin (attempt {Attempt}): {Reason}", current.Label, attempt, e.Message);
                return NodeExitCodes.Failed;
            }
            log.Information("{Node} rejoin attempt {Attempt}: new ActorSystem started, joining the seed {Seed}",
                node.Label, attempt, node.Options.Seed?.ToString());
        }
    }

    private static string CauseOf(int code) => code == NodeExitCodes.Downed
        ? "was downed by the cluster"
        : "lost its seed (no seed-role node left in its cluster, or joining through the seed gave up)";

    private static int LogFinalExit(NodeHost node, int code)
    {
        if (AkkaTls.IsTlsHandshakeFailure(Akka.Actor.CoordinatedShutdown.Get(node.System).ShutdownReason))
            node.Log.Error("{Node} stops: a TLS handshake with a peer failed (is --cert issued by the cluster CA the seed trusts, " +
                "and --ca the CA that issued the seed's certificate?)", node.Label);
        else if (code == NodeExitCodes.Downed)
            node.Log.Error("{Node} was downed by the cluster and exits; a downed node cannot rejoin with the same ActorSystem: restart it " +
                "to join as a new node{Hint}", node.Label, node.Options.Role == NodeRole.Worker ? " (or run the worker without --no-rejoin)" : "");
        else if (code == NodeExitCodes.SeedLost)
            node.Log.Error("{Node} lost its seed and exits (--no-rejoin): restart it to join the seed again", node.Label);
        else
            node.Log.Information("{Node} stopped (exit code {Code})", node.Label, code);
        return code;
    }
}
