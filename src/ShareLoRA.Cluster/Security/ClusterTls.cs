using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ShareLoRA.Cluster.Security;

/// <summary>
/// The TLS identity of one node or client: its certificate (with private key) and the cluster CA, the ONLY trust
/// anchor for peers (custom-root chain; the system store is never consulted). Used by Akka.Remote's DotNetty
/// transport (<see cref="AkkaTls"/>) and by the TCP data plane (<see cref="AuthenticateAsServerAsync"/>,
/// <see cref="AuthenticateAsClientAsync"/>). Host names are not checked: holding a key certified by the cluster CA
/// is what makes a peer a member, and nodes are often dialled by IP.
/// </summary>
public sealed class ClusterTls
{
    private readonly SslStreamCertificateContext _context;

    private ClusterTls(X509Certificate2 certificate, X509Certificate2 authority)
    {
        Certificate = certificate;
        Authority = authority;
        // offline: never fetch intermediates or revocation data from the network while handshaking.
        _context = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
    }

    /// <summary>This node's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The cluster CA (public certificate only).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>Builds from certificates already in memory (tests, benchmarks).</summary>
    public static ClusterTls Create(X509Certificate2 certificate, X509Certificate2 authority)
    {
        if (!certificate.HasPrivateKey) throw new ArgumentException("the node certificate has no private key");
        return new ClusterTls(certificate, X509CertificateLoader.LoadCertificate(authority.RawData));
    }

    /// <summary>
    /// Loads a node .pfx and the CA .crt. Errors are one line naming the file; the password never appears in them.
    /// </summary>
    public static ClusterTls Load(string certificatePath, string authorityPath, string? password)
    {
        if (!File.Exists(certificatePath)) throw new FileNotFoundException($"--cert: file not found: {certificatePath}");
        if (!File.Exists(authorityPath)) throw new FileNotFoundException($"--ca: file not found: {authorityPath}");
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(certificatePath, password);
        }
        catch (CryptographicException)
        {
            // The exception text is generic, but do not echo anything derived from the password.
            throw new InvalidDataException(
                $"--cert {certificatePath}: cannot read it as PKCS#12 with the password from {ClusterCertificates.PasswordVariable} " +
                $"({(password == null ? "unset" : "set")}); is the password right and the file a .pfx from `sharelora certs issue`?");
        }
        if (!certificate.HasPrivateKey)
            throw new InvalidDataException($"--cert {certificatePath}: the file holds no private key (give the .pfx from `sharelora certs issue`)");
        X509Certificate2 authority;
        try
        {
            authority = X509CertificateLoader.LoadCertificateFromFile(authorityPath);
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"--ca {authorityPath}: not a PEM or DER certificate ({e.Message})");
        }
        var tls = new ClusterTls(certificate, authority);
        if (tls.ValidatePeer(certificate) is { } problem)
            throw new InvalidDataException($"--cert {certificatePath}: not usable with --ca {authorityPath}: {problem}");
        return tls;
    }

    /// <summary>
    /// Checks a peer's certificate: it must chain to the cluster CA (sole trust anchor, no system store), be within
    /// its validity period, be an end-entity certificate and allow both serverAuth and clientAuth. Returns null when
    /// acceptable, else a one-line reason (names subjects and dates, never key material).
    /// </summary>
    public string? ValidatePeer(X509Certificate? peer)
    {
        if (peer == null) return "no certificate presented";
        using var owned = peer as X509Certificate2 == null ? X509CertificateLoader.LoadCertificate(peer.GetRawCertData()) : null;
        var certificate = owned ?? (X509Certificate2)peer;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(Authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        if (!chain.Build(certificate))
        {
            var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (f, s) => f | s.Status);
            if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
                return $"certificate '{certificate.Subject}' (issuer '{certificate.Issuer}') is not issued by the cluster CA '{Authority.Subject}'" +
                       (certificate.Issuer == Authority.Subject ? " (another CA with the same name)" : "");
            if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
                return $"certificate '{certificate.Subject}' is outside its validity period ({certificate.NotBefore.ToUniversalTime():u} .. {certificate.NotAfter.ToUniversalTime():u})";
            return $"certificate '{certificate.Subject}' does not validate against the cluster CA: {flags}";
        }
        // CustomRootTrust with one anchor already implies it; checked anyway so a future policy change cannot widen trust.
        if (!chain.ChainElements[^1].Certificate.RawData.AsSpan().SequenceEqual(Authority.RawData))
            return $"certificate '{certificate.Subject}' chains to '{chain.ChainElements[^1].Certificate.Subject}', not to the cluster CA";
        if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is { CertificateAuthority: true })
            return $"certificate '{certificate.Subject}' is a CA certificate, not a node certificate";
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault()?.EnhancedKeyUsages;
        if (usages == null || !Has(usages, ClusterCertificates.ServerAuthOid) || !Has(usages, ClusterCertificates.ClientAuthOid))
            return $"certificate '{certificate.Subject}' lacks the serverAuth + clientAuth extended key usages";
        return null;
    }

    /// <summary>Runs the server side of a mutually authenticated handshake; throws <see cref="AuthenticationException"/> with the reason.</summary>
    public async Task<SslStream> AuthenticateAsServerAsync(Stream inner, string peer, ConnectionRejectionLog? rejections, CancellationToken ct)
    {
        string? reason = null;
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = _context,
                ClientCertificateRequired = true,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => (reason = ValidatePeer(certificate)) == null,
            }, ct).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            var why = reason ?? "TLS handshake failed: " + e.Message;
            rejections?.Refused(peer, why);
            throw new AuthenticationException($"TLS peer {peer} refused: {why}", e);
        }
    }

    /// <summary>Runs the client side of a mutually authenticated handshake with a listener of this cluster.</summary>
    public async Task<SslStream> AuthenticateAsClientAsync(Stream inner, string targetHost, string peer, CancellationToken ct)
    {
        string? reason = null;
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = targetHost,
                ClientCertificateContext = _context,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, _, _) => (reason = ValidatePeer(certificate)) == null,
            }, ct).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            var why = reason != null
                ? "its certificate was refused: " + reason
                : "the TLS handshake failed (is our certificate issued by the cluster CA that peer trusts?): " + e.Message;
            throw new AuthenticationException($"TLS link to {peer}: {why}", e);
        }
    }

    private static bool Has(OidCollection usages, string oid)
    {
        foreach (var usage in usages) if (usage.Value == oid) return true;
        return false;
    }
}
