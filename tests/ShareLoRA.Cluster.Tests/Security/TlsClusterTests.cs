using System.Net;
using System.Net.Sockets;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Hosting;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Cluster.Tests.Hosting;

namespace ShareLoRA.Cluster.Tests.Security;

/// <summary>In-process seed and workers on 127.0.0.1 with mutual TLS: who becomes a member and who does not.</summary>
public sealed class TlsClusterTests
{
    /// <summary>A worker with a good certificate is Up well within this; a refused one has had several join attempts.</summary>
    private static readonly TimeSpan JoinWindow = TimeSpan.FromSeconds(7);

    private static NodeOptions Seed(int port, string? cert = "seed") =>
        new(NodeRole.Seed, Host: "127.0.0.1", Port: port, StateDirectory: SeedStateFolder.New(),
            CertificateFile: cert == null ? null : TestCertificates.Pfx(cert), CaFile: cert == null ? null : TestCertificates.CaFile);

    private static NodeOptions Worker(int seedPort, string? cert) =>
        new(NodeRole.Worker, Host: "127.0.0.1", Port: 0, Seed: new HostPort("127.0.0.1", seedPort),
            CertificateFile: cert == null ? null : TestCertificates.Pfx(cert), CaFile: cert == null ? null : TestCertificates.CaFile);

    private static int UpMembers(NodeHost node) =>
        Akka.Cluster.Cluster.Get(node.System).State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up);

    private static async Task WaitFor(Func<bool> condition, TimeSpan bound, string what)
    {
        var deadline = DateTime.UtcNow + bound;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"within {bound.TotalSeconds:0} s: {what}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task NodesWithCertificatesFromTheClusterCaFormAClusterAndATlsStatusClientSeesIt()
    {
        var port = NodeHostTests.FreePort();
        await using var seed = NodeHost.Start(Seed(port));
        await using var worker = NodeHost.Start(Worker(port, "worker"));
        await WaitFor(() => UpMembers(seed) == 2, TimeSpan.FromSeconds(20), "seed and worker Up");
        Assert.NotNull(seed.Tls);
        Assert.Equal(seed.Tls, seed.DataPlaneOptions.Tls);
        Assert.Same(worker.DataPlaneOptions, ShareLoRA.Cluster.DataPlane.DataPlaneSettings.For(worker.System));
        Assert.Equal(256L << 20, worker.DataPlaneOptions.MaxFrameBytes);

        var report = await StatusClient.QueryAsync(new HostPort("127.0.0.1", port), TimeSpan.FromSeconds(10), tls: TestCertificates.Member("ops"));
        Assert.Equal(2, report.Members.Length);
        Assert.All(report.Members, m => Assert.StartsWith("akka.ssl.tcp://sharelora@127.0.0.1:", m.Address));
    }

    [Fact]
    public async Task AWorkerWithACertificateFromAnotherCaNeverBecomesAMemberAndTheSeedLogsItOnce()
    {
        var port = NodeHostTests.FreePort();
        var seedLog = new CapturedLog();
        await using var seed = NodeHost.Start(Seed(port), seedLog.Logger);
        await WaitFor(() => UpMembers(seed) == 1, TimeSpan.FromSeconds(20), "seed Up");
        // The intruder trusts the real cluster CA (ca.crt is public) but its own certificate is from another CA. NodeHost
        // refuses such a certificate at start, so the intruder builds its ActorSystem directly, as an attacker would.
        var intruderConfig = ClusterConfig.ForNode(Worker(port, "intruder"));
        var intruder = AkkaTls.CreateSystem(ClusterConfig.SystemName, intruderConfig, TestCertificates.Intruder("intruder"), null);
        try
        {
            await Task.Delay(JoinWindow);
            Assert.Single(Akka.Cluster.Cluster.Get(seed.System).State.Members);
        }
        finally
        {
            await Task.WhenAny(intruder.Terminate(), Task.Delay(5000));
        }
        var refusal = Assert.Single(seedLog.Lines, l => l.Contains("refused connection from"));
        Assert.Contains("127.0.0.1", refusal);
        Assert.Contains("not issued by the cluster CA", refusal);
    }

    [Fact]
    public void NodeHostRefusesToStartWithACertificateItsOwnCaDoesNotVouchFor()
    {
        var e = Assert.Throws<InvalidDataException>(() => NodeHost.Start(Worker(NodeHostTests.FreePort(), "intruder")));
        Assert.Contains("not issued by the cluster CA", e.Message);
    }

    [Fact]
    public async Task APlainTcpWorkerNeverBecomesAMemberOfATlsClusterAndIsLoggedOncePerInterval()
    {
        var port = NodeHostTests.FreePort();
        var seedLog = new CapturedLog();
        await using var seed = NodeHost.Start(Seed(port), seedLog.Logger);
        await WaitFor(() => UpMembers(seed) == 1, TimeSpan.FromSeconds(20), "seed Up");
        await using var plain = NodeHost.Start(Worker(port, cert: null));

        await Task.Delay(JoinWindow);
        Assert.Single(Akka.Cluster.Cluster.Get(seed.System).State.Members);
        Assert.DoesNotContain(Akka.Cluster.Cluster.Get(plain.System).State.Members, m => m.Status == Akka.Cluster.MemberStatus.Up);
        // The plain worker retried several times within the window; the seed logged one line for its host.
        var refusal = Assert.Single(seedLog.Lines, l => l.Contains("refused connection from"));
        Assert.Contains("127.0.0.1", refusal);
        Assert.Contains("TLS handshake failed", refusal);
        Assert.Contains("the peer does not speak TLS", refusal);
    }

    [Fact]
    public async Task AStatusClientWithoutACertificateCannotQueryATlsSeed()
    {
        var port = NodeHostTests.FreePort();
        var seedLog = new CapturedLog();
        await using var seed = NodeHost.Start(Seed(port), seedLog.Logger);
        await WaitFor(() => UpMembers(seed) == 1, TimeSpan.FromSeconds(20), "seed Up");

        var e = await Assert.ThrowsAsync<TimeoutException>(() => StatusClient.QueryAsync(new HostPort("127.0.0.1", port), TimeSpan.FromSeconds(3)));
        Assert.Contains("--cert", e.Message);
        // A client whose certificate comes from another CA fails its handshake too.
        await Assert.ThrowsAsync<TimeoutException>(() =>
            StatusClient.QueryAsync(new HostPort("127.0.0.1", port), TimeSpan.FromSeconds(3), tls: TestCertificates.Intruder("eve")));
        await WaitFor(() => seedLog.Lines.Any(l => l.Contains("refused connection from")), TimeSpan.FromSeconds(5), "the seed logs the refusal");
    }

    [Fact]
    public void ANonLoopbackBindWithoutCertificatesIsRefusedBeforeAnythingBinds()
    {
        // The port is busy: had the node tried to bind (or probe) first, the error would be "address already in use".
        using var busy = new TcpListener(IPAddress.Any, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var e = Assert.Throws<NodeStartException>(() => NodeHost.Start(new NodeOptions(NodeRole.Seed, Host: "0.0.0.0", Port: port, StateDirectory: SeedStateFolder.New())));
        Assert.StartsWith("refusing to listen on 0.0.0.0 without TLS", e.Message);
        Assert.Contains("sharelora certs init", e.Message);
        Assert.Contains("--insecure", e.Message);
        Assert.DoesNotContain('\n', e.Message);

        var worker = Assert.Throws<NodeStartException>(() =>
            NodeHost.Start(new NodeOptions(NodeRole.Worker, Host: "0.0.0.0", Port: 0, Seed: new HostPort("10.0.0.1", 4053))));
        Assert.StartsWith("refusing to listen on 0.0.0.0 without TLS", worker.Message);
    }

    [Fact]
    public void TlsTurnsOnAkkaSslAndTheSslSeedAddressWithoutPuttingSecretsInHocon()
    {
        var config = ClusterConfig.ForNode(Seed(4999));
        Assert.True(config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.Equal(["akka.ssl.tcp://sharelora@127.0.0.1:4999"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(TestCertificates.Pfx("seed"), config.GetString("sharelora.tls.certificate"));
        Assert.True(string.IsNullOrEmpty(config.GetString("akka.remote.dot-netty.tcp.ssl.certificate.password", "")));

        var plain = ClusterConfig.ForNode(Seed(4999, cert: null));
        Assert.False(plain.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
        Assert.Equal(["akka.tcp://sharelora@127.0.0.1:4999"], plain.GetStringList("akka.cluster.seed-nodes"));
        Assert.Throws<ArgumentException>(() => new NodeOptions(NodeRole.Seed, CertificateFile: "a.pfx").Validate());
    }
}
