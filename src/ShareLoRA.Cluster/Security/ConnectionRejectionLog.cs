using System.Net;
using Serilog;

namespace ShareLoRA.Cluster.Security;

/// <summary>
/// Logs refused connections (bad or missing certificate, no TLS, wrong data-plane token) on the accepting node: one
/// warning per peer host per interval, naming the peer address and the reason. A peer that keeps retrying (a worker
/// with the wrong certificate rejoins every few seconds) adds to a count reported with its next line instead of
/// flooding the log. Keyed by host, not host:port, since every retry comes from a new ephemeral port.
/// </summary>
public sealed class ConnectionRejectionLog(ILogger log, TimeSpan interval, Func<DateTime>? clock = null)
{
    private readonly object _gate = new();
    private readonly Dictionary<string, Entry> _byHost = new(StringComparer.OrdinalIgnoreCase);
    private readonly Func<DateTime> _clock = clock ?? (() => DateTime.UtcNow);

    /// <summary>Default interval between two lines about the same peer host.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Reports one refused connection from <paramref name="peer"/> (host:port, as the socket saw it); with
    /// <paramref name="outbound"/>, a connection this node opened and refused because of the peer's certificate.
    /// </summary>
    public void Refused(string peer, string reason, bool outbound = false)
    {
        var endpoint = Normalize(peer);
        var host = HostOf(endpoint);
        int suppressed;
        lock (_gate)
        {
            var now = _clock();
            if (_byHost.TryGetValue(host, out var entry) && now - entry.LoggedAt < interval)
            {
                // Several layers report the same connection (our validator, then Akka's handshake failure): count once.
                if (entry.LastEndpoint != endpoint) entry.Suppressed++;
                entry.LastEndpoint = endpoint;
                return;
            }
            suppressed = entry?.Suppressed ?? 0;
            _byHost[host] = new Entry { LoggedAt = now, LastEndpoint = endpoint };
            if (_byHost.Count > 4096) Prune(now);
        }
        var direction = outbound ? "refused to connect to" : "refused connection from";
        if (suppressed == 0)
            log.Warning(direction + " {Peer}: {Reason} (further refusals for {Host} are summarised every {Interval})",
                endpoint, reason, host, interval);
        else
            log.Warning(direction + " {Peer}: {Reason} ({Suppressed} more for {Host} since the last line)",
                endpoint, reason, suppressed, host);
    }

    /// <summary>An established link from <paramref name="peer"/> was dropped for bad input (e.g. an oversized frame header).</summary>
    public void Dropped(string peer, string reason) =>
        log.Warning("dropped the connection from {Peer}: {Reason}", Normalize(peer), reason);

    /// <summary>"[::ffff:10.0.0.2]:40123" and "10.0.0.2:40123" name the same peer: IPv4-mapped addresses are unmapped.</summary>
    internal static string Normalize(string peer) =>
        IPEndPoint.TryParse(peer, out var ep)
            ? (ep.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(ep.Address.MapToIPv4(), ep.Port) : ep).ToString()
            : peer;

    private static string HostOf(string endpoint) =>
        IPEndPoint.TryParse(endpoint, out var ep) ? ep.Address.ToString()
        : endpoint.LastIndexOf(':') is var colon and > 0 ? endpoint[..colon] : endpoint;

    private void Prune(DateTime now)
    {
        foreach (var stale in _byHost.Where(e => now - e.Value.LoggedAt >= interval).Select(e => e.Key).ToList())
            _byHost.Remove(stale);
    }

    private sealed class Entry
    {
        public DateTime LoggedAt;
        public string LastEndpoint = "";
        public int Suppressed;
    }
}
