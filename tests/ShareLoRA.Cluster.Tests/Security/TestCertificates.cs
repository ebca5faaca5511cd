using System.Security.Cryptography.X509Certificates;
using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cluster.Tests.Security;

/// <summary>
/// Two independent CAs (the cluster's and a foreign one) with node certificates, made once per test run, and
/// written as files (ca.crt, NAME.pfx) for tests that go through NodeOptions or the CLI.
/// </summary>
internal static class TestCertificates
{
    private static readonly Lazy<X509Certificate2> LazyClusterCa = new(() => ClusterCertificates.CreateAuthority("Test cluster CA"));
    private static readonly Lazy<X509Certificate2> LazyForeignCa = new(() => ClusterCertificates.CreateAuthority("Foreign CA"));
    private static readonly Lazy<string> LazyDirectory = new(WriteFiles);

    public static X509Certificate2 ClusterCa => LazyClusterCa.Value;
    public static X509Certificate2 ForeignCa => LazyForeignCa.Value;

    public static X509Certificate2 Issue(X509Certificate2 ca, string name) => ClusterCertificates.IssueNode(ca, name, ["node.example"]);

    /// <summary>A node identity of the cluster.</summary>
    public static ClusterTls Member(string name) => ClusterTls.Create(Issue(ClusterCa, name), ClusterCa);

    /// <summary>A certificate from the foreign CA that trusts the cluster CA (it knows the public ca.crt).</summary>
    public static ClusterTls Intruder(string name) => ClusterTls.Create(Issue(ForeignCa, name), ClusterCa);

    /// <summary>Directory with ca.crt (cluster CA), seed.pfx, worker.pfx (cluster) and intruder.pfx (foreign CA); no passwords.</summary>
    public static string Directory => LazyDirectory.Value;

    public static string CaFile => Path.Combine(Directory, "ca.crt");
    public static string Pfx(string name) => Path.Combine(Directory, name + ".pfx");

    private static string WriteFiles()
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("sharelora-certs-").FullName;
        File.WriteAllText(Path.Combine(dir, "ca.crt"), ClusterCa.ExportCertificatePem());
        ClusterCertificates.WriteNodePfx(Issue(ClusterCa, "seed"), Pfx(dir, "seed"), null);
        ClusterCertificates.WriteNodePfx(Issue(ClusterCa, "worker"), Pfx(dir, "worker"), null);
        ClusterCertificates.WriteNodePfx(Issue(ClusterCa, "worker2"), Pfx(dir, "worker2"), null);
        ClusterCertificates.WriteNodePfx(Issue(ForeignCa, "intruder"), Pfx(dir, "intruder"), null);
        return dir;
    }

    private static string Pfx(string dir, string name) => Path.Combine(dir, name + ".pfx");
}
