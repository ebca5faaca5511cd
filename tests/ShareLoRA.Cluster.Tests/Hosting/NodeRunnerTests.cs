using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Hosting;
using ShareLoRA.Cluster.Tests.Security;

namespace ShareLoRA.Cluster.Tests.Hosting;

/// <summary>
/// <see cref="NodeRunner"/> in one process, against a seed address nobody listens on: joining gives up after 1 s
/// (shutdown-after-unsuccessful-join-seed-nodes), which ends the worker's ActorSystem as a lost seed does. The real
/// seed restart, with processes, is ClusterProcessTests.AWorkerRejoinsASeedRestartedOnTheSamePortWithoutBeingRestarted.
/// </summary>
public sealed class NodeRunnerTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sharelora-runner-").FullName;

    private NodeOptions Worker(string backoff, bool? rejoin = null)
    {
        var config = Path.Combine(_folder, $"give-up-{Guid.NewGuid():N}.hocon");
        File.WriteAllText(config, $$"""
            akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = 1s
            sharelora.rejoin { {{backoff}} }
            """);
        return new NodeOptions(NodeRole.Worker, Host: "127.0.0.1", Port: NodeHostTests.FreePort(),
            Seed: new HostPort("127.0.0.1", NodeHostTests.FreePort()), ConfigFile: config, LogsDirectory: _folder, Rejoin: rejoin);
    }

    [Fact]
    public async Task AWorkerWhoseMembershipEndedStartsNewActorSystemsOnTheSamePortUntilStopped()
    {
        var log = new CapturedLog();
        var first = NodeHost.Start(Worker("min-backoff = 100ms, max-backoff = 300ms"), log.Logger);
        var started = new List<NodeHost>();
        var twoStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var run = NodeRunner.RunAsync(first, stop.Token, options =>
        {
            var node = NodeHost.Start(options, log.Logger);
            lock (started)
            {
                started.Add(node);
                if (started.Count == 2) twoStarted.TrySetResult();
            }
            return node;
        });
        await twoStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        stop.Cancel();
        Assert.Equal(NodeExitCodes.Stopped, await run.WaitAsync(TimeSpan.FromSeconds(20)));

        Assert.Equal(NodeExitCodes.SeedLost, await first.WhenExited);
        lock (started)
        {
            // Each new system started only after the previous one had terminated, on the same host:port.
            Assert.All(started, node => Assert.Equal((first.Host, first.Port), (node.Host, node.Port)));
            Assert.All(started, node => Assert.True(node.System.WhenTerminated.IsCompleted));
            Assert.All(started, node => Assert.Equal(first.Options, node.Options));
        }
        var lines = log.Lines;
        Assert.Contains(lines, l => l.Contains("starting a new ActorSystem to join the seed") && l.EndsWith("in 0.1 s (attempt 1)"));
        Assert.Contains(lines, l => l.Contains("starting a new ActorSystem to join the seed") && l.EndsWith("in 0.2 s (attempt 2)"));
        Assert.Contains(lines, l => l.Contains("rejoin attempt 2: new ActorSystem started"));
    }

    [Fact]
    public async Task AStopRequestDuringTheBackoffEndsTheRunAtOnceWithoutANewActorSystem()
    {
        var first = NodeHost.Start(Worker("min-backoff = 10m, max-backoff = 10m"), new CapturedLog().Logger);
        using var stop = new CancellationTokenSource();
        int starts = 0;
        var run = NodeRunner.RunAsync(first, stop.Token, options =>
        {
            Interlocked.Increment(ref starts);
            return NodeHost.Start(options);
        });
        Assert.Equal(NodeExitCodes.SeedLost, await first.WhenExited.WaitAsync(TimeSpan.FromSeconds(30)));
        stop.Cancel();
        Assert.Equal(NodeExitCodes.Stopped, await run.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, starts);
    }

    [Fact]
    public async Task WithRejoinOffTheRunEndsWithTheSeedLostExitCode()
    {
        var first = NodeHost.Start(Worker("min-backoff = 100ms", rejoin: false), new CapturedLog().Logger);
        Assert.False(first.Rejoin.Enabled);
        var run = NodeRunner.RunAsync(first, CancellationToken.None, _ => throw new InvalidOperationException("no new ActorSystem expected"));
        Assert.Equal(NodeExitCodes.SeedLost, await run.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void RejoinIsOnForWorkersByDefaultAndNeverForSeeds()
    {
        var seed = new HostPort("127.0.0.1", 4053);
        Assert.Equal(new RejoinPolicy(true, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15)),
            RejoinPolicy.FromConfig(ClusterConfig.ForNode(new NodeOptions(NodeRole.Worker, Seed: seed))));
        Assert.False(RejoinPolicy.FromConfig(ClusterConfig.ForNode(new NodeOptions(NodeRole.Worker, Seed: seed, Rejoin: false))).Enabled);
        Assert.False(RejoinPolicy.FromConfig(ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, StateDirectory: _folder))).Enabled);
    }

    [Fact]
    public void TheBackoffDoublesFromTheMinimumUpToTheMaximum()
    {
        var policy = new RejoinPolicy(true, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
        Assert.Equal([1, 2, 4, 8, 15, 15], Enumerable.Range(1, 6).Select(a => policy.DelayBefore(a).TotalSeconds));
    }

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
