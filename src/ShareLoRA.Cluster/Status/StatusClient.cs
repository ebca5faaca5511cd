using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cluster.Status;

/// <summary>
/// Asks a running cluster for its <see cref="StatusReport"/> from a short-lived ActorSystem that is NOT a member:
/// a ClusterClient talks to the seed's ClusterClientReceptionist. Joining as a member instead would show up in the
/// membership, make the coordinator react to a node that comes and goes, and leave a member to remove on exit.
/// </summary>
public static class StatusClient
{
    /// <summary>
    /// Queries the cluster through <paramref name="seed"/>; throws <see cref="TimeoutException"/> with one line on no
    /// answer. A cluster running TLS answers only a client with a certificate from its CA (<paramref name="tls"/>).
    /// </summary>
    public static async Task<StatusReport> QueryAsync(HostPort seed, TimeSpan timeout, string? bindHost = null, ClusterTls? tls = null)
    {
        var config = ClusterConfig.ForClient(bindHost ?? LocalHostToward(seed.Host), tls != null)
            .WithFallback(ClusterClientReceptionist.DefaultConfig());
        var system = AkkaTls.CreateSystem(ClusterConfig.SystemName + "-status", config, tls, rejections: null);
        try
        {
            var receptionist = ActorPath.Parse(ClusterConfig.AddressOf(seed, tls != null) + "/system/receptionist");
            var settings = ClusterClientSettings.Create(system).WithInitialContacts(ImmutableHashSet.Create(receptionist));
            var client = system.ActorOf(ClusterClient.Props(settings), "client");
            try
            {
                return await client.Ask<StatusReport>(
                    new ClusterClient.Send(StatusService.Path, new StatusProtocol.GetStatus(), localAffinity: true), timeout)
                    .ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                if (AkkaTls.IsTlsHandshakeFailure(CoordinatedShutdown.Get(system).ShutdownReason))
                    throw new TimeoutException($"no status from {seed}: the TLS handshake failed (is --cert issued by the cluster's CA, " +
                        "and --ca the CA that issued the seed's certificate?)");
                throw new TimeoutException(tls == null
                    ? $"no status from a cluster at {seed} within {timeout.TotalSeconds:0} s (is a seed running there? is --seed right? " +
                      "a cluster running TLS answers only with --cert and --ca)"
                    : $"no status from a cluster at {seed} within {timeout.TotalSeconds:0} s (is a seed running there with TLS? is --seed right?)");
            }
        }
        finally
        {
            await Task.WhenAny(system.Terminate(), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
    }

    /// <summary>The local address the cluster can reach us on: loopback for a loopback seed, else the routed interface.</summary>
    internal static string LocalHostToward(string seedHost)
    {
        if (seedHost == "localhost" || (IPAddress.TryParse(seedHost, out var ip) && IPAddress.IsLoopback(ip))) return "127.0.0.1";
        try
        {
            // Connecting a UDP socket sends nothing; it only asks the kernel which interface routes to the seed.
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            probe.Connect(seedHost, 9);
            return ((IPEndPoint)probe.LocalEndPoint!).Address.ToString();
        }
        catch (SocketException)
        {
            return "127.0.0.1";
        }
    }
}
