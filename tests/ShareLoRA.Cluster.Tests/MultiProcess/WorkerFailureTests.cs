using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Status;
using ShareLoRA.TestSupport;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// A job waits for enough workers with a clear status, starts when they come, and when a worker process dies mid-run
/// with no spare left, recovers by itself on the one live worker (re-planned over one stage) and completes, recording
/// the loss and the recovery in metrics.jsonl, while the seed keeps answering status.
/// </summary>
public sealed class WorkerFailureTests
{
    [SkippableFact]
    public async Task JobWaitsForWorkersThenRecoversOnTheLiveWorkerWhenAWorkerDiesMidRun()
    {
        var model = SharedAssets.Stories260K;
        var folder = Directory.CreateTempSubdirectory("sharelora-kill-").FullName;
        try
        {
            using var fixture = new ClusterRunFixture();
            using var cluster = new LocalCluster(Path.Combine(folder, "logs"));
            cluster.AddWorker();
            await cluster.WaitForWorkersAsync(1, TimeSpan.FromSeconds(90));

            var jobPath = ClusterRunFixture.WriteJob(folder, "long", model, fixture.DataFile, "share-a", 2, "1f1b", steps: 6, checkpointEvery: 2);
            using var submit = NodeProcess.Start("submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait");
            await using var client = CoordinatorClient.Connect(cluster.Seed);

            var waiting = await PollAsync(client, s => s.State == JobStatus.WaitingForWorkers && s.Message != "", TimeSpan.FromSeconds(90), cluster);
            Assert.Equal("waiting for 2 workers, 1 up", waiting.Message);

            cluster.AddWorker();
            var running = await PollAsync(client, s => s.State == JobStatus.Running && s.Step >= 1, TimeSpan.FromMinutes(3), cluster);
            Assert.Equal(2, running.Stages.Length);

            // Frozen seed around the kill: no further step is dispatched in between, however fast steps are.
            var victim = cluster.Workers[1];
            cluster.SeedProcess.Suspend();
            try { victim.Kill(); }
            finally { cluster.SeedProcess.Continue(); }
            var killedAt = DateTime.UtcNow;
            var finished = await PollAsync(client, s => s.IsFinished, TimeSpan.FromSeconds(120), cluster);
            var took = DateTime.UtcNow - killedAt;
            Assert.True(finished.State == JobStatus.Completed, $"{finished.State}: {finished.Message}\n{cluster.Outputs()}");
            Assert.Equal(6, finished.Step);
            Assert.Single(finished.Stages); // re-planned over the one live worker

            // submit --wait reports the completion and exits 0; the seed still answers status.
            int exit = submit.WaitForExit(TimeSpan.FromSeconds(30));
            Assert.Equal(0, exit);
            var status = await StatusClient.QueryAsync(cluster.Seed, TimeSpan.FromSeconds(10));
            Assert.Equal(JobStatus.Completed, status.Job?.State);
            var metrics = File.ReadAllText(Path.Combine(folder, "long", "metrics.jsonl"));
            Assert.Contains("\"event\":\"worker_lost\"", metrics);
            Assert.Contains("\"event\":\"recovered\"", metrics);
            Assert.True(took < TimeSpan.FromSeconds(120), $"the recovery and the rest of the run took {took.TotalSeconds:0} s");
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
