using System.Security.Cryptography.X509Certificates;
using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cluster.Tests.Security;

public sealed class CertificateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharelora-ca-").FullName;

    [Fact]
    public void InitAndIssueFilesGiveAChainThatValidatesAgainstItsCaAndNotAnother()
    {
        var caDir = Path.Combine(_dir, "ca");
        using (var ca = ClusterCertificates.CreateAuthority("Cluster A"))
            ClusterCertificates.WriteAuthority(ca, caDir);
        using var authority = ClusterCertificates.LoadAuthorityWithKey(caDir);
        using var node = ClusterCertificates.IssueNode(authority, "worker-1", ["10.1.2.3", "gpu1.lab"], days: 30);
        var pfx = Path.Combine(_dir, "worker-1.pfx");
        ClusterCertificates.WriteNodePfx(node, pfx, "s3cret-pw");

        var tls = ClusterTls.Load(pfx, Path.Combine(caDir, "ca.crt"), "s3cret-pw");
        Assert.True(tls.Certificate.HasPrivateKey);
        Assert.Null(tls.ValidatePeer(tls.Certificate));

        using var other = ClusterCertificates.CreateAuthority("Cluster B");
        var foreign = ClusterTls.Create(ClusterCertificates.IssueNode(other, "x", []), other);
        var reason = foreign.ValidatePeer(tls.Certificate);
        Assert.NotNull(reason);
        Assert.Contains("not issued by the cluster CA", reason);
        // And the other way round: B's node is refused by A's cluster.
        Assert.Contains("not issued by the cluster CA", tls.ValidatePeer(foreign.Certificate));
    }

    [Fact]
    public void CaAndNodeCertificatesCarryTheRightExtensionsAndPrivateFilesAreOwnerOnly()
    {
        using var ca = ClusterCertificates.CreateAuthority();
        ClusterCertificates.WriteAuthority(ca, _dir);
        var basic = ca.Extensions.OfType<X509BasicConstraintsExtension>().Single();
        Assert.True(basic.CertificateAuthority);
        Assert.True(ca.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", File.ReadAllText(Path.Combine(_dir, "ca.crt")));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(Path.Combine(_dir, "ca.key")));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "ca.key")));

        using var node = ClusterCertificates.IssueNode(ca, "seed", ["10.0.0.1", "seed.lab"]);
        Assert.False(node.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        var eku = node.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>()
            .Select(o => o.Value).ToHashSet();
        Assert.Contains("1.3.6.1.5.5.7.3.1", eku);
        Assert.Contains("1.3.6.1.5.5.7.3.2", eku);
        var san = node.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["seed.lab", "localhost"], san.EnumerateDnsNames().ToArray());
        Assert.Equal(["10.0.0.1", "127.0.0.1"], san.EnumerateIPAddresses().Select(a => a.ToString()).ToArray());
        Assert.Equal("CN=seed", node.Subject);
        Assert.True(node.NotAfter <= ca.NotAfter);

        using var noLoopback = ClusterCertificates.IssueNode(ca, "w", ["10.0.0.2"], includeLoopback: false);
        Assert.Equal(["10.0.0.2"], noLoopback.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single()
            .EnumerateIPAddresses().Select(a => a.ToString()).ToArray());

        var pfx = Path.Combine(_dir, "seed.pfx");
        ClusterCertificates.WriteNodePfx(node, pfx, null);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pfx));
    }

    [Fact]
    public void AnExistingCaIsNeverOverwritten()
    {
        using var ca = ClusterCertificates.CreateAuthority();
        ClusterCertificates.WriteAuthority(ca, _dir);
        var key = File.ReadAllText(Path.Combine(_dir, "ca.key"));
        using var second = ClusterCertificates.CreateAuthority();
        var e = Assert.Throws<IOException>(() => ClusterCertificates.WriteAuthority(second, _dir));
        Assert.Contains("refusing to overwrite", e.Message);
        Assert.Equal(key, File.ReadAllText(Path.Combine(_dir, "ca.key")));
    }

    [Fact]
    public void AWrongPasswordIsOneLineThatNeverContainsThePassword()
    {
        using var ca = ClusterCertificates.CreateAuthority();
        File.WriteAllText(Path.Combine(_dir, "ca.crt"), ca.ExportCertificatePem());
        var pfx = Path.Combine(_dir, "n.pfx");
        ClusterCertificates.WriteNodePfx(ClusterCertificates.IssueNode(ca, "n", []), pfx, "right-horse-battery");
        var e = Assert.Throws<InvalidDataException>(() => ClusterTls.Load(pfx, Path.Combine(_dir, "ca.crt"), "wrong-staple-42"));
        Assert.DoesNotContain("wrong-staple-42", e.ToString());
        Assert.DoesNotContain("right-horse-battery", e.ToString());
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("n.pfx", e.Message);
        Assert.Contains(ClusterCertificates.PasswordVariable, e.Message);
    }

    [Fact]
    public void ACertificateFromAnotherCaIsRefusedAtLoadTime()
    {
        using var mine = ClusterCertificates.CreateAuthority("Mine");
        using var theirs = ClusterCertificates.CreateAuthority("Theirs");
        File.WriteAllText(Path.Combine(_dir, "ca.crt"), mine.ExportCertificatePem());
        var pfx = Path.Combine(_dir, "n.pfx");
        ClusterCertificates.WriteNodePfx(ClusterCertificates.IssueNode(theirs, "n", []), pfx, null);
        var e = Assert.Throws<InvalidDataException>(() => ClusterTls.Load(pfx, Path.Combine(_dir, "ca.crt"), null));
        Assert.Contains("not issued by the cluster CA", e.Message);
    }

    [Fact]
    public void TheCaCertificateItselfIsNotANodeCertificate()
    {
        using var ca = ClusterCertificates.CreateAuthority();
        var tls = ClusterTls.Create(ClusterCertificates.IssueNode(ca, "n", []), ca);
        Assert.Contains("CA certificate", tls.ValidatePeer(ca));
        Assert.Equal("no certificate presented", tls.ValidatePeer(null));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
