using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace ShareLoRA.Cluster.Security;

/// <summary>
/// TLS for Akka.Remote's DotNetty transport. HOCON turns it on (akka.remote.dot-netty.tcp.enable-ssl, set by
/// <see cref="Config.ClusterConfig"/> when a certificate is configured) but cannot express "trust only this CA", so
/// the certificate and a custom validator (<see cref="ClusterTls.ValidatePeer"/>) go in a <see cref="DotNettySslSetup"/>,
/// which takes precedence over akka.remote.dot-netty.tcp.ssl. Mutual authentication is required both ways.
/// Akka logs each refused inbound handshake itself (an error with a stack trace plus a warning, per attempt);
/// those events are dropped from the log and reported once per peer host through <see cref="ConnectionRejectionLog"/>.
/// </summary>
public static class AkkaTls
{
    /// <summary>
    /// Creates an ActorSystem with TLS when <paramref name="tls"/> is given (else plain TCP, as configured).
    /// Refused inbound connections go to <paramref name="rejections"/>.
    /// </summary>
    public static ActorSystem CreateSystem(string name, Akka.Configuration.Config config, ClusterTls? tls, ConnectionRejectionLog? rejections)
    {
        if (tls == null) return ActorSystem.Create(name, config);
        var setup = BootstrapSetup.Create().WithConfig(config)
            .And(SslSetup(tls, rejections))
            .And(new LogFilterBuilder().Add(new AkkaRejectionFilter()).Build());
        var system = ActorSystem.Create(name, setup);
        if (rejections != null)
        {
            var monitor = system.ActorOf(Props.Create(() => new RejectionMonitor(rejections)), "tls-rejections");
            system.EventStream.Subscribe(monitor, typeof(Warning));
            system.EventStream.Subscribe(monitor, typeof(Error));
        }
        return system;
    }

    /// <summary>The DotNetty setup: our certificate, mutual authentication, peers validated against the cluster CA only.</summary>
    public static DotNettySslSetup SslSetup(ClusterTls tls, ConnectionRejectionLog? rejections) =>
        new(tls.Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false,
            customValidator: (certificate, _, peer, _, _) =>
            {
                // The chain and policy errors SslStream computed use the system store; ignore them and decide alone.
                if (tls.ValidatePeer(certificate) is not { } reason) return true;
                // Akka names the peer by its Akka address when this node dialled out, by host:port when it accepted.
                rejections?.Refused(peer, reason, outbound: peer.Contains("://", StringComparison.Ordinal));
                return false;
            });

    /// <summary>True when the ActorSystem was shut down by Akka because an outbound TLS handshake failed.</summary>
    public static bool IsTlsHandshakeFailure(CoordinatedShutdown.Reason? reason) =>
        reason?.GetType().Name == "TlsHandshakeFailureReason";

    /// <summary>Recognises Akka's log events about a refused inbound TLS connection: the peer and a short reason.</summary>
    internal static bool TryReadRejection(LogEvent e, out string peer, out string reason)
    {
        peer = reason = "";
        if (e.Message is not LogMessage message || e is not (Warning or Error)) return false;
        var format = message.Format;
        var args = message.Parameters().ToArray();
        switch (e.LogClass?.Name)
        {
            case "DotNettyTransport" when format.StartsWith("Mutual TLS required but client did not provide a certificate", StringComparison.Ordinal) && args.Length >= 1:
                peer = args[0]?.ToString() ?? "unknown";
                reason = "no client certificate presented";
                return true;
            case "TcpServerHandler" when format.StartsWith("TLS handshake failed on channel", StringComparison.Ordinal) && args.Length >= 2:
                peer = args[1]?.ToString() ?? "unknown";
                reason = "TLS handshake failed (no TLS, or not a certificate of this cluster): " + FirstLine(e.Cause);
                return true;
            case "TcpServerHandler" when format.StartsWith("TLS exception on channel", StringComparison.Ordinal) && args.Length >= 2:
                peer = args[1]?.ToString() ?? "unknown";
                reason = "TLS error: " + FirstLine(e.Cause);
                return true;
            // DotNetty reports a peer that does not speak TLS as a generic channel error (NotSslRecordException).
            case "TcpServerHandler" when format.StartsWith("Error caught channel", StringComparison.Ordinal) && args.Length >= 2
                                         && IsTlsFailure(e.Cause):
                peer = args[1]?.ToString() ?? "unknown";
                reason = "TLS handshake failed (no TLS, or not a certificate of this cluster): " + FirstLine(e.Cause);
                return true;
            case "TcpServerHandler" when format.StartsWith("Rejected incoming connection from", StringComparison.Ordinal) && args.Length >= 1:
                peer = args[0]?.ToString() ?? "unknown";
                reason = "TLS handshake failed";
                return true;
            default:
                return false;
        }
    }

    private static bool IsTlsFailure(Exception? e)
    {
        for (; e != null; e = e.InnerException)
            if (e is System.Security.Authentication.AuthenticationException || e.GetType().Namespace == "DotNetty.Handlers.Tls")
                return true;
        return false;
    }

    /// <summary>
    /// A short reason from the handshake exception. Never the peer's bytes: DotNetty's NotSslRecordException quotes the
    /// received record in hex, which is whatever the peer sent (plain Akka protocol, or anything else).
    /// </summary>
    private static string FirstLine(Exception? e)
    {
        for (var x = e; x != null; x = x.InnerException)
            if (x.GetType().Name == "NotSslRecordException") return "the peer does not speak TLS";
        var text = e?.InnerException?.Message is { Length: > 0 } inner && e.Message.Contains("see inner", StringComparison.OrdinalIgnoreCase)
            ? inner
            : e?.Message ?? "unknown reason";
        var newline = text.IndexOf('\n');
        text = (newline < 0 ? text : text[..newline]).Trim();
        return text.Length <= 200 ? text : text[..200] + "...";
    }

    /// <summary>Drops Akka's per-attempt rejection events from the loggers (the monitor reports them rate-limited).</summary>
    private sealed class AkkaRejectionFilter : LogFilterBase
    {
        public override LogFilterType FilterType => LogFilterType.Source;

        public override LogFilterDecision ShouldKeepMessage(LogEvent content, string? expandedMessage = null) =>
            TryReadRejection(content, out _, out _) ? LogFilterDecision.Drop : LogFilterDecision.Keep;
    }

    /// <summary>Subscribed to warnings and errors on the event stream; forwards refused inbound connections.</summary>
    private sealed class RejectionMonitor : ReceiveActor
    {
        public RejectionMonitor(ConnectionRejectionLog rejections) =>
            Receive<LogEvent>(e =>
            {
                if (TryReadRejection(e, out var peer, out var reason)) rejections.Refused(peer, reason);
            });
    }
}
