using System.Net;
using ShareLoRA.Cluster.Hosting;

namespace ShareLoRA.Cluster.Security;

/// <summary>
/// The sharelora.tls section of a node's configuration (base.hocon, --config, or --cert/--ca/--insecure):
/// which certificate and CA to use, whether a non-loopback address may run without TLS, and how often refusals
/// from one peer host are logged.
/// </summary>
public sealed record NodeSecurityOptions(string? CertificateFile, string? CaFile, bool Insecure, TimeSpan RejectionLogInterval)
{
    /// <summary>True when a certificate is configured (Akka.Remote and the data plane then run mutual TLS).</summary>
    public bool TlsEnabled => CertificateFile != null;

    public static NodeSecurityOptions FromConfig(Akka.Configuration.Config config)
    {
        var certificate = NullIfEmpty(config.GetString("sharelora.tls.certificate", ""));
        var ca = NullIfEmpty(config.GetString("sharelora.tls.ca", ""));
        if ((certificate == null) != (ca == null))
            throw new ArgumentException("sharelora.tls: certificate (--cert) and ca (--ca) go together");
        return new NodeSecurityOptions(certificate, ca, config.GetBoolean("sharelora.tls.insecure", false),
            config.GetTimeSpan("sharelora.tls.rejection-log-interval", ConnectionRejectionLog.DefaultInterval));
    }

    /// <summary>
    /// Refuses, before anything binds, to listen on an address other machines can reach without TLS unless
    /// --insecure was given: one line saying how to make certificates.
    /// </summary>
    public void EnsureAllowedOn(string host)
    {
        if (TlsEnabled || Insecure || IsLoopback(host)) return;
        throw new NodeStartException(
            $"refusing to listen on {host} without TLS: any machine that reaches it could join the cluster. Make certificates " +
            "(sharelora certs init --out certs; sharelora certs issue --ca certs --name NODE --host HOST --out certs) and pass " +
            "--cert certs/NODE.pfx --ca certs/ca.crt, or pass --insecure on a network you trust");
    }

    /// <summary>Loads the certificate (password from SHARELORA_CERT_PASSWORD); null without TLS.</summary>
    public ClusterTls? LoadTls() =>
        TlsEnabled ? ClusterTls.Load(CertificateFile!, CaFile!, ClusterCertificates.PasswordFromEnvironment()) : null;

    /// <summary>127.0.0.0/8, ::1 and "localhost" are loopback; any other name may resolve to a reachable address.</summary>
    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    private static string? NullIfEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
