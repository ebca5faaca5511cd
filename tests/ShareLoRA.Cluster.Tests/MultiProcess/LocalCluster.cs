using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Cluster.Tests.Hosting;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>A seed and N workers as separate processes on 127.0.0.1; every process is killed on dispose.</summary>
internal sealed class LocalCluster : IDisposable
{
    private readonly List<NodeProcess> _processes = [];
    private readonly string _logs;

    public LocalCluster(string logsDirectory)
    {
        _logs = logsDirectory;
        Seed = new HostPort("127.0.0.1", NodeHostTests.FreePort());
        _processes.Add(NodeProcess.Start("node", "seed", "--host", "127.0.0.1", "--port", Seed.Port.ToString(), "--logs", _logs));
    }

    public HostPort Seed { get; }

    public IReadOnlyList<NodeProcess> Workers => _processes.Skip(1).ToList();

    public NodeProcess AddWorker()
    {
        var worker = NodeProcess.Start("node", "worker", "--seed", Seed.ToString(), "--host", "127.0.0.1", "--logs", _logs);
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
                last = await StatusClient.QueryAsync(Seed, TimeSpan.FromSeconds(5));
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

    /// <summary>Every process's output, for failure messages.</summary>
    public string Outputs() => string.Join("\n", _processes.Select((p, i) => $"--- process {i} ---\n{Tail(p.Output)}"));

    private static string Tail(string text) => text.Length <= 4000 ? text : text[^4000..];

    public void Dispose()
    {
        foreach (var p in _processes) p.Dispose();
    }
}
