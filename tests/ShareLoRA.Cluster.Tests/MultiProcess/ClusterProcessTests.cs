using System.Text.Json;
using ShareLoRA.Cluster.Hosting;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Cluster.Tests.Hosting;
using Xunit.Abstractions;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>Seed and workers as separate processes on 127.0.0.1, driven through the CLI like a user would.</summary>
public sealed class ClusterProcessTests(ITestOutputHelper output) : IDisposable
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private readonly string _dir = Directory.CreateTempSubdirectory("sharelora-cluster-").FullName;
    private readonly List<CliProcess> _started = [];

    private CliProcess Start(params string[] args)
    {
        var process = CliProcess.Start(_dir, args);
        _started.Add(process);
        return process;
    }

    private StatusReport? Status(int seedPort)
    {
        var (code, stdout, _) = CliProcess.Run(_dir, TimeSpan.FromSeconds(30), "status", "--seed", $"127.0.0.1:{seedPort}", "--json", "--timeout", "3");
        return code == 0 ? JsonSerializer.Deserialize<StatusReport>(stdout, Json) : null;
    }

    private StatusReport WaitForStatus(int seedPort, Func<StatusReport, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Bound;
        StatusReport? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = Status(seedPort) ?? last;
            if (last != null && condition(last)) return last;
            Thread.Sleep(250);
        }
        throw new TimeoutException($"within {Bound.TotalSeconds:0} s: {what}; last status: {JsonSerializer.Serialize(last)}");
    }

    [Fact]
    public void SeedAndTwoWorkersFormAClusterAndAKilledWorkerIsDownedAndRemoved()
    {
        var seedPort = NodeHostTests.FreePort();
        // Faster failure detection and downing than production (seconds instead of ~25 s), through --config.
        var fast = Path.Combine(_dir, "fast-downing.hocon");
        File.WriteAllText(fast, """
            akka.cluster.failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s }
            akka.cluster.split-brain-resolver.stable-after = 2s
            """);
        var seed = Start("node", "seed", "--host", "127.0.0.1", "--port", seedPort.ToString(), "--config", fast, "--logs", "logs");
        var worker1 = Start("node", "worker", "--seed", $"127.0.0.1:{seedPort}", "--config", fast, "--logs", "logs");
        var worker2 = Start("node", "worker", "--seed", $"127.0.0.1:{seedPort}", "--config", fast, "--logs", "logs", "--device", "cpu", "--threads", "1");
        try
        {
            var formed = WaitForStatus(seedPort, r => r.Members.Count(m => m.Status == "Up") == 3 && r.Nodes.Length == 3, "3 members Up");
            Assert.Equal(["seed", "worker", "worker"], formed.Members.SelectMany(m => m.Roles).Order().ToArray());
            var killedAddress = Assert.Single(formed.Nodes, n => n.ProcessId == worker1.Id).Address;
            var survivorAddress = Assert.Single(formed.Nodes, n => n.ProcessId == worker2.Id).Address;
            Assert.Equal(1, Assert.Single(formed.Nodes, n => n.ProcessId == worker2.Id).Threads);

            worker1.Process.Kill();
            var after = WaitForStatus(seedPort, r => r.Members.All(m => m.Address != killedAddress || m.Status is "Down" or "Removed"),
                "the killed worker downed or removed");
            Assert.Contains(after.Members, m => m.Address == survivorAddress && m.Status == "Up" && m.Reachable);

            // SIGTERM: the survivor leaves gracefully and exits 0; then the seed.
            worker2.Terminate();
            Assert.True(worker2.Process.WaitForExit(20_000), "worker did not exit within 20 s of SIGTERM");
            Assert.Equal(0, worker2.Process.ExitCode);
            seed.Terminate();
            Assert.True(seed.Process.WaitForExit(20_000), "seed did not exit within 20 s of SIGTERM");
            Assert.Equal(0, seed.Process.ExitCode);
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(_dir, "logs"), "*.clef"));
        }
        catch
        {
            foreach (var p in _started) output.WriteLine($"--- pid {p.Id} stdout:\n{p.Stdout}\n--- stderr:\n{p.Stderr}");
            throw;
        }
    }

    // kill -9 of the seed, then a new seed on the same port and state folder: the SAME worker process joins it by itself
    // (a new ActorSystem on its same --port). Which side the split-brain resolver keeps on a 1-1 tie depends on the
    // lowest address, so both orders are run: seed lower -> the worker downs itself (Downed); worker lower -> the worker
    // downs the seed and stays in a seedless cluster until SeedWatch ends it (SeedLost).
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AWorkerRejoinsASeedRestartedOnTheSamePortWithoutBeingRestarted(bool seedHasTheLowerPort)
    {
        var (low, high) = TwoFreePorts();
        var (seedPort, workerPort) = seedHasTheLowerPort ? (low, high) : (high, low);
        var fast = Path.Combine(_dir, "fast-downing.hocon");
        File.WriteAllText(fast, """
            akka.cluster.failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s }
            akka.cluster.split-brain-resolver.stable-after = 2s
            sharelora.rejoin { min-backoff = 200ms, max-backoff = 1s }
            """);
        string[] seedArgs = ["node", "seed", "--host", "127.0.0.1", "--port", seedPort.ToString(), "--config", fast, "--logs", "logs", "--state", "state"];
        var seed = Start(seedArgs);
        var worker = Start("node", "worker", "--seed", $"127.0.0.1:{seedPort}", "--host", "127.0.0.1", "--port", workerPort.ToString(),
            "--config", fast, "--logs", "logs");
        try
        {
            var before = WaitForStatus(seedPort, r => r.Members.Count(m => m.Status == "Up") == 2 && r.Nodes.Any(n => n.ProcessId == worker.Id),
                "seed and worker Up");
            var seedAddress = Assert.Single(before.Nodes, n => n.ProcessId == seed.Id).Address;

            seed.Process.Kill();
            Assert.True(seed.Process.WaitForExit(10_000), "the killed seed did not exit");
            var restarted = Start(seedArgs);
            var after = WaitForStatus(seedPort,
                r => r.Nodes.Any(n => n.ProcessId == restarted.Id) && r.Members.Count(m => m.Status == "Up") == 2
                     && r.Nodes.Any(n => n.ProcessId == worker.Id),
                "the same worker process Up in the restarted seed's cluster");
            Assert.False(worker.Process.HasExited);
            var member = Assert.Single(after.Members, m => m.Roles.Contains("worker"));
            Assert.Equal($"akka.tcp://sharelora@127.0.0.1:{workerPort}", member.Address); // the same --port, bound again
            Assert.Equal("Up", member.Status);
            Assert.Equal(seedAddress, Assert.Single(after.Nodes, n => n.ProcessId == restarted.Id).Address);
            var cause = seedHasTheLowerPort ? "was downed by the cluster" : "lost its seed";
            Assert.Contains($"worker@127.0.0.1:{workerPort} {cause}", worker.Stdout);
            Assert.Contains($"starting a new ActorSystem to join the seed 127.0.0.1:{seedPort} again", worker.Stdout);
            Assert.Contains("rejoin attempt 1: new ActorSystem started", worker.Stdout);

            // A stop request still ends the rejoining worker at once, with exit code 0.
            worker.Terminate();
            Assert.True(worker.Process.WaitForExit(20_000), "worker did not exit within 20 s of SIGTERM");
            Assert.Equal(0, worker.Process.ExitCode);
        }
        catch
        {
            foreach (var p in _started) output.WriteLine($"--- pid {p.Id} stdout:\n{p.Stdout}\n--- stderr:\n{p.Stderr}");
            throw;
        }
    }

    // With --no-rejoin the worker exits when its membership ends (code 3 downed or 4 seed lost), for a supervisor to restart.
    [Fact]
    public void AWorkerWithNoRejoinExitsWhenTheSeedIsKilled()
    {
        var (seedPort, _) = TwoFreePorts();
        var fast = Path.Combine(_dir, "fast-downing.hocon");
        File.WriteAllText(fast, """
            akka.cluster.failure-detector { heartbeat-interval = 500ms, acceptable-heartbeat-pause = 2s }
            akka.cluster.split-brain-resolver.stable-after = 2s
            """);
        var seed = Start("node", "seed", "--host", "127.0.0.1", "--port", seedPort.ToString(), "--config", fast, "--logs", "logs");
        var worker = Start("node", "worker", "--seed", $"127.0.0.1:{seedPort}", "--host", "127.0.0.1", "--config", fast, "--logs", "logs", "--no-rejoin");
        try
        {
            WaitForStatus(seedPort, r => r.Members.Count(m => m.Status == "Up") == 2, "seed and worker Up");
            seed.Process.Kill();
            Assert.True(worker.Process.WaitForExit(60_000), "the --no-rejoin worker did not exit within 60 s of the seed's kill");
            Assert.Contains(worker.Process.ExitCode, new[] { NodeExitCodes.Downed, NodeExitCodes.SeedLost });
            Assert.DoesNotContain("rejoin attempt", worker.Stdout);
        }
        catch
        {
            foreach (var p in _started) output.WriteLine($"--- pid {p.Id} stdout:\n{p.Stdout}\n--- stderr:\n{p.Stderr}");
            throw;
        }
    }

    // Two distinct free ports, the lower first.
    private static (int Low, int High) TwoFreePorts()
    {
        int pa = ShareLoRA.TestSupport.TestPorts.Free(), pb = ShareLoRA.TestSupport.TestPorts.Free();
        return (Math.Min(pa, pb), Math.Max(pa, pb));
    }

    [Fact]
    public void SeedOnAPortInUseFailsWithOneLineNamingThePort()
    {
        using var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        var port = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
        var (code, _, stderr) = CliProcess.Run(_dir, Bound, "node", "seed", "--host", "127.0.0.1", "--port", port.ToString(), "--logs", "logs");
        Assert.NotEqual(0, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith($"error: cannot listen on 127.0.0.1:{port}: address already in use", line);
    }

    public void Dispose()
    {
        foreach (var p in _started) p.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
