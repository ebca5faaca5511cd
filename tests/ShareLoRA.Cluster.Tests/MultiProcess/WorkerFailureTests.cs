using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Status;
using ShareLoRA.TestSupport;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// A job waits for enough workers with a clear status, starts when they come, and fails with a clear message within a
/// bounded time when a worker process dies mid-run, while the seed keeps answering status.
/// </summary>
public sealed class WorkerFailureTests
{
    [SkippableFact]
    public async Task JobWaitsForWorkersThenFailsClearlyWhenAWorkerDiesMidRun()
    {
        var model = SharedAssets.Stories260K;
        var folder = Directory.CreateTempSubdirectory("sharelora-kill-").FullName;
        try
        {
            using var fixture = new ClusterRunFixture();
            using var cluster = new LocalCluster(Path.Combine(folder, "logs"));
            cluster.AddWorker();
            await cluster.WaitForWorkersAsync(1, TimeSpan.FromSeconds(90));

            var jobPath = ClusterRunFixture.WriteJob(folder, "long", model, fixture.DataFile, "share-a", 2, "1f1b", steps: 500);
            using var submit = NodeProcess.Start("submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait");
            await using var client = CoordinatorClient.Connect(cluster.Seed);

            var waiting = await PollAsync(client, s => s.State == JobStatus.WaitingForWorkers && s.Message != "", TimeSpan.FromSeconds(90), cluster);
            Assert.Equal("waiting for 2 workers, 1 up", waiting.Message);

            cluster.AddWorker();
            var running = await PollAsync(client, s => s.State == JobStatus.Running && s.Step >= 1, TimeSpan.FromMinutes(3), cluster);
            Assert.Equal(2, running.Stages.Length);

            var victim = cluster.Workers[1];
            victim.Kill();
            var killedAt = DateTime.UtcNow;
            var failed = await PollAsync(client, s => s.IsFinished, TimeSpan.FromSeconds(90), cluster);
            var took = DateTime.UtcNow - killedAt;
            Assert.Equal(JobStatus.Failed, failed.State);
            Assert.Contains("stage", failed.Message);
            Assert.True(failed.Step < 500, "the job should not have finished");

            // submit --wait reports the failure and exits non-zero; the seed still answers status.
            int exit = submit.WaitForExit(TimeSpan.FromSeconds(30));
            Assert.NotEqual(0, exit);
            Assert.Contains("failed", submit.Output);
            var status = await StatusClient.QueryAsync(cluster.Seed, TimeSpan.FromSeconds(10));
            Assert.Equal(JobStatus.Failed, status.Job?.State);
            Assert.True(took < TimeSpan.FromSeconds(90), $"the failure took {took.TotalSeconds:0} s to surface");
        }
        finally
        {
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<JobStatus> PollAsync(CoordinatorClient client, Func<JobStatus, bool> done, TimeSpan timeout, LocalCluster cluster)
    {
        var deadline = DateTime.UtcNow + timeout;
        JobStatus? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await client.StatusAsync(TimeSpan.FromSeconds(5));
                if (done(last)) return last;
            }
            catch (TimeoutException) { /* the singleton may still be starting */ }
            await Task.Delay(250);
        }
        throw new TimeoutException($"status never matched within {timeout.TotalSeconds:0} s; last: {last}\n{cluster.Outputs()}");
    }
}
