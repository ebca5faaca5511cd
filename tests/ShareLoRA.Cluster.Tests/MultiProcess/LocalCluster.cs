using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Cluster.Tests.Hosting;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// A seed and N workers as separate processes on 127.0.0.1; every process is killed on dispose. Given a
/// <see cref="LocalClusterCertificates"/> folder, every node runs mutual TLS with its own certificate.
/// </summary>
internal sealed class LocalCluster : IDisposable
{
    private readonly List<NodeProcess> _processes = [];
    private readonly string _logs;
    private readonly string[] _config;
    private ClusterTls? _clientTls;
    private string _earlierOutputs = "";
    private bool _seedKilled;

    /// <param name="logsDirectory">The folder given to every node with --logs (where their log files go).</param>
    /// <param name="certificates">The CA and per-node certificates for mutual TLS, or null for a plain cluster.</param>
    /// <param name="configFile">A HOCON file given to every node with --config (e.g. faster downing), or null.</param>
    public LocalCluster(string logsDirectory, LocalClusterCertificates? certificates = null, string? configFile = null)
    {
        _logs = logsDirectory;
        _config = configFile is null ? [] : ["--config", configFile];
        Certificates = certificates;
        Seed = new HostPort("127.0.0.1", NodeHostTests.FreePort());
        _processes.Add(StartSeed());
    }

    // The coordinator's state is the default LOGS/state/coordinator.db: a restarted seed with the same logs finds it.
    private NodeProcess StartSeed() =>
        NodeProcess.Start(["node", "seed", "--host", "127.0.0.1", "--port", Seed.Port.ToString(), "--logs", _logs, .. _config, .. TlsArguments("seed")]);

    /// <summary>SIGKILLs every process of the cluster, seed first (their output is kept for failure messages).</summary>
    public void KillAll()
    {
        foreach (var p in _processes) p.Kill();
        _earlierOutputs += Outputs() + "\n--- (all killed) ---\n";
        foreach (var p in _processes) p.Dispose();
        _processes.Clear();
    }

    /// <summary>SIGKILLs the seed only; the workers keep running (its output is kept for failure messages).</summary>
    public void KillSeed()
    {
        var seed = _processes[0];
        seed.Kill();
        _earlierOutputs += $"--- seed (killed) ---\n{Tail(seed.Output)}\n";
        seed.Dispose();
        _seedKilled = true;
    }

    /// <summary>After <see cref="KillAll"/> or <see cref="KillSeed"/>: a new seed at the same port with the same logs and state folder.</summary>
    public void RestartSeed()
    {
        if (_seedKilled) _processes[0] = StartSeed();
        else if (_processes.Count == 0) _processes.Add(StartSeed());
        else throw new InvalidOperationException("kill the seed or the cluster first");
        _seedKilled = false;
    }

    public HostPort Seed { get; }

    /// <summary>The cluster's certificates, or null when it runs without TLS.</summary>
    public LocalClusterCertificates? Certificates { get; }

    /// <summary>`--cert NAME.pfx --ca ca.crt` for a node or client of this cluster (a certificate issued on first use); nothing without TLS.</summary>
    public string[] TlsArguments(string name) =>
        Certificates is null ? [] : ["--cert", Certificates.Issue(name), "--ca", Certificates.Authority];

    public IReadOnlyList<NodeProcess> Workers => _processes.Skip(1).ToList();

    /// <summary>The seed's process.</summary>
    public NodeProcess SeedProcess => _processes[0];

    public NodeProcess AddWorker()
    {
        var worker = NodeProcess.Start(["node", "worker", "--seed", Seed.ToString(), "--host", "127.0.0.1", "--logs", _logs, .. _config, .. TlsArguments($"worker{_processes.Count}")]);
        _processes.Add(worker);
        return worker;
    }

    /// <summary>Waits until the seed reports <paramref name="workers"/> workers Up (and the seed itself).</summary>
    public async Task<StatusReport> WaitForWorkersAsync(int workers, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        StatusReport? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await StatusClient.QueryAsync(Seed, TimeSpan.FromSeconds(5), tls: ClientTls());
                if (last.Members.Count(m => m.Status == "Up" && m.Roles.Contains("worker")) >= workers
                    && last.Members.Any(m => m.Status == "Up" && m.Roles.Contains("seed")))
                    return last;
            }
            catch (TimeoutException) { /* seed still starting */ }
            await Task.Delay(300);
        }
        throw new TimeoutException($"{workers} workers did not come Up within {timeout.TotalSeconds:0} s; last status: " +
            string.Join(", ", last?.Members.Select(m => $"{m.Address} {m.Status}") ?? []) + "\n" + Outputs());
    }

    // The status queries' own client identity, loaded once.
    private ClusterTls? ClientTls()
    {
        if (Certificates is null) return null;
        return _clientTls ??= ClusterTls.Load(Certificates.Issue("status"), Certificates.Authority, password: null);
    }

    /// <summary>Every process's output, for failure messages.</summary>
    public string Outputs() => _earlierOutputs + string.Join("\n", _processes.Select((p, i) => $"--- process {i} ---\n{Tail(p.Output)}"));

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    public void Dispose()
    {
        foreach (var p in _processes) p.Dispose();
    }
}
