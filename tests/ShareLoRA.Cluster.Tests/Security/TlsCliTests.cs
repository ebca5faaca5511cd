using System.Text.Json;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Cluster.Tests.Hosting;
using ShareLoRA.Cluster.Tests.MultiProcess;

namespace ShareLoRA.Cluster.Tests.Security;

/// <summary>The certificate workflow and a TLS cluster driven through the CLI, as separate processes on 127.0.0.1.</summary>
public sealed class TlsCliTests : IDisposable
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("sharelora-tls-cli-").FullName;
    private readonly List<CliProcess> _started = [];

    private (int Code, string Stdout, string Stderr) Run(params string[] args) => CliProcess.Run(_dir, Bound, args);

    [Fact]
    public void CertsInitAndIssueThenATlsSeedAndWorkerFormAClusterOnlyACertifiedStatusClientCanQuery()
    {
        Assert.Equal(0, Run("certs", "init", "--out", "ca").Code);
        // The CA key is written owner-only where file modes exist (ClusterCertificates skips the mode on Windows).
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, "ca", "ca.key")));
        foreach (var name in new[] { "seed", "worker", "ops" })
        {
            var issued = Run("certs", "issue", "--ca", "ca", "--name", name, "--host", "127.0.0.1", "--host", "node.lab", "--out", "ca");
            Assert.True(issued.Code == 0, issued.Stderr);
            Assert.Contains("names [node.lab, localhost, 127.0.0.1]", issued.Stdout);
        }
        var again = Run("certs", "init", "--out", "ca");
        Assert.Equal(2, again.Code);
        Assert.Contains("refusing to overwrite", again.Stderr);

        var port = NodeHostTests.FreePort();
        string[] tls(string name) => ["--cert", Path.Combine("ca", name + ".pfx"), "--ca", Path.Combine("ca", "ca.crt")];
        var seed = CliProcess.Start(_dir, ["node", "seed", "--port", port.ToString(), "--logs", "logs", .. tls("seed")]);
        _started.Add(seed);
        _started.Add(CliProcess.Start(_dir, ["node", "worker", "--seed", $"127.0.0.1:{port}", "--logs", "logs", .. tls("worker")]));

        StatusReport? report = null;
        var deadline = DateTime.UtcNow + Bound;
        while (DateTime.UtcNow < deadline && report?.Members.Count(m => m.Status == "Up") != 2)
        {
            var status = Run(["status", "--seed", $"127.0.0.1:{port}", "--json", "--timeout", "3", .. tls("ops")]);
            report = status.Code == 0 ? JsonSerializer.Deserialize<StatusReport>(status.Stdout, Json) : report;
            Thread.Sleep(200);
        }
        Assert.True(report?.Members.Count(m => m.Status == "Up") == 2, $"no 2-member TLS cluster; seed output: {seed.Stdout}");

        var anonymous = Run("status", "--seed", $"127.0.0.1:{port}", "--timeout", "2");
        Assert.Equal(2, anonymous.Code);
        Assert.StartsWith("error: no status from a cluster at", anonymous.Stderr);
        Assert.DoesNotContain("BEGIN PRIVATE KEY", seed.Stdout);

        // Jobs go through the same door: without a certificate from the cluster CA, submit gets no answer; with one,
        // the coordinator answers: here it rejects the job, naming the missing model's config.json.
        File.WriteAllText(Path.Combine(_dir, "job.json"), """{ "model": "no-such-model", "data": { "train": "no-such-data.jsonl" }, "steps": 1 }""");
        var anonymousSubmit = Run("submit", "--seed", $"127.0.0.1:{port}", "--job", "job.json", "--timeout", "3");
        Assert.Equal(2, anonymousSubmit.Code);
        Assert.StartsWith("error: no answer from the coordinator", anonymousSubmit.Stderr);
        var certifiedSubmit = Run(["submit", "--seed", $"127.0.0.1:{port}", "--job", "job.json", "--timeout", "20", .. tls("ops")]);
        Assert.Equal(2, certifiedSubmit.Code);
        Assert.StartsWith("error: the coordinator rejected the job:", certifiedSubmit.Stderr);
        Assert.Contains(Path.Combine("no-such-model", "config.json"), certifiedSubmit.Stderr);
    }

    [Fact]
    public void ANodeOnANonLoopbackAddressWithoutCertificatesStopsWithOneLineBeforeStarting()
    {
        var (code, stdout, stderr) = Run("node", "worker", "--seed", "10.0.0.1:4053", "--host", "0.0.0.0", "--port", "0", "--logs", "logs");
        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: refusing to listen on 0.0.0.0 without TLS", line);
        Assert.Contains("sharelora certs init", line);
        Assert.Equal("", stdout);
        Assert.False(Directory.Exists(Path.Combine(_dir, "logs")), "nothing may start, not even the log file");
    }

    public void Dispose()
    {
        foreach (var process in _started) process.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { /* a child may still hold a log file */ }
    }
}
