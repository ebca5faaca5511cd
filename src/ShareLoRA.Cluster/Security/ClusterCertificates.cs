using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ShareLoRA.Cluster.Security;

/// <summary>
/// Makes the certificates of a cluster with System.Security.Cryptography only (no openssl): a self-signed cluster CA
/// (ECDSA P-256, basic constraints CA, key usage cert-sign) and node certificates it signs (EKU serverAuth +
/// clientAuth, SANs for the node's names and addresses). Every node and client trusts exactly that CA.
/// </summary>
public static class ClusterCertificates
{
    /// <summary>File names inside a CA directory.</summary>
    public const string CaCertificateFile = "ca.crt";
    public const string CaKeyFile = "ca.key";

    /// <summary>Environment variable holding the password of node .pfx files (unset or empty: no password).</summary>
    public const string PasswordVariable = "SHARELORA_CERT_PASSWORD";

    internal const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    internal const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>A new self-signed CA certificate with its private key.</summary>
    public static X509Certificate2 CreateAuthority(string name = "ShareLoRA cluster CA", int days = 3650)
    {
        if (days < 1) throw new ArgumentException($"--days must be >= 1 (got {days})");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + EscapeCn(name)), key, HashAlgorithmName.SHA256);
        // pathLength 0: the CA signs node certificates only, never another CA.
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now - ClockSkew, now.AddDays(days));
    }

    /// <summary>
    /// A node certificate signed by <paramref name="authority"/> (which must carry its private key), with the node's
    /// private key. <paramref name="hosts"/> become SANs: IP addresses as IP SANs, anything else as DNS names.
    /// </summary>
    public static X509Certificate2 IssueNode(X509Certificate2 authority, string nodeName, IEnumerable<string> hosts,
        int days = 825, bool includeLoopback = true)
    {
        if (string.IsNullOrWhiteSpace(nodeName)) throw new ArgumentException("--name must not be empty");
        if (days < 1) throw new ArgumentException($"--days must be >= 1 (got {days})");
        if (!authority.HasPrivateKey) throw new ArgumentException("the CA certificate has no private key: cannot issue");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + EscapeCn(nodeName)), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        // Every node is both a TLS server (accepts connections) and a TLS client (dials its peers).
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            new OidCollection { new Oid(ServerAuthOid), new Oid(ClientAuthOid) }, false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));

        var san = new SubjectAlternativeNameBuilder();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var all = includeLoopback ? hosts.Concat(["127.0.0.1", "localhost"]) : hosts;
        foreach (var host in all.Select(h => h.Trim()).Where(h => h.Length > 0))
        {
            if (!names.Add(host)) continue;
            if (IPAddress.TryParse(host.Trim('[', ']'), out var ip)) san.AddIpAddress(ip);
            else san.AddDnsName(host);
        }
        if (names.Count > 0) request.CertificateExtensions.Add(san.Build());

        var now = DateTimeOffset.UtcNow;
        var notBefore = now - ClockSkew;
        var notAfter = now.AddDays(days);
        // A certificate cannot outlive its issuer (chain building would reject it later).
        if (notAfter > authority.NotAfter) notAfter = authority.NotAfter.ToUniversalTime();
        if (notBefore < authority.NotBefore) notBefore = authority.NotBefore.ToUniversalTime();
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f; // positive
        using var signed = request.Create(authority, notBefore, notAfter, serial);
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>Writes DIR/ca.crt and DIR/ca.key (PKCS#8 PEM, mode 0600); refuses to overwrite an existing CA.</summary>
    public static void WriteAuthority(X509Certificate2 authority, string directory)
    {
        Directory.CreateDirectory(directory);
        var certPath = Path.Combine(directory, CaCertificateFile);
        var keyPath = Path.Combine(directory, CaKeyFile);
        foreach (var path in new[] { certPath, keyPath })
            if (File.Exists(path))
                throw new IOException($"{path} already exists; refusing to overwrite a cluster CA (move it away or choose another --out)");
        using var key = authority.GetECDsaPrivateKey() ?? throw new ArgumentException("the CA certificate has no ECDSA private key");
        WritePrivate(keyPath, System.Text.Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem()));
        File.WriteAllText(certPath, authority.ExportCertificatePem() + "\n");
    }

    /// <summary>Loads the CA certificate and key written by <see cref="WriteAuthority"/> (for issuing).</summary>
    public static X509Certificate2 LoadAuthorityWithKey(string directory)
    {
        var certPath = Path.Combine(directory, CaCertificateFile);
        var keyPath = Path.Combine(directory, CaKeyFile);
        if (!File.Exists(certPath)) throw new FileNotFoundException($"--ca: no {CaCertificateFile} in {directory} (create one with `sharelora certs init --out {directory}`)");
        if (!File.Exists(keyPath)) throw new FileNotFoundException($"--ca: no {CaKeyFile} in {directory}: issuing needs the CA's private key");
        try
        {
            using var withoutKey = X509Certificate2.CreateFromPemFile(certPath, keyPath);
            // Round-trip through PKCS#12 so the key is usable for signing on every platform.
            return X509CertificateLoader.LoadPkcs12(withoutKey.Export(X509ContentType.Pkcs12), null);
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"{directory}: {CaCertificateFile}/{CaKeyFile} are not a PEM certificate and its matching private key ({e.Message})");
        }
    }

    /// <summary>Writes a node certificate with its key as PKCS#12 (mode 0600), encrypted with AES-256 when a password is given.</summary>
    public static void WriteNodePfx(X509Certificate2 node, string path, string? password)
    {
        if (File.Exists(path)) throw new IOException($"{path} already exists; refusing to overwrite a node certificate");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var bytes = string.IsNullOrEmpty(password)
            ? node.Export(X509ContentType.Pkcs12)
            : node.ExportPkcs12(new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 100_000), password);
        WritePrivate(path, bytes);
    }

    /// <summary>The password of node .pfx files from <see cref="PasswordVariable"/>; null when unset or empty.</summary>
    public static string? PasswordFromEnvironment() =>
        Environment.GetEnvironmentVariable(PasswordVariable) is { Length: > 0 } p ? p : null;

    /// <summary>Creates the file readable by its owner only from the first byte (no window where it is world-readable).</summary>
    private static void WritePrivate(string path, byte[] bytes)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        stream.Write(bytes);
    }

    private static string EscapeCn(string value) =>
        value.IndexOfAny([',', '+', '"', '\\', '<', '>', ';', '=']) >= 0 ? "\"" + value.Replace("\"", "\\\"") + "\"" : value;
}
