using System.Diagnostics;
using System.Text.Json;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Status;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Trainer;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// Issue #5's acceptance tests with real processes: a worker SIGKILLed mid-run (with a spare: bitwise the same run;
/// without: re-planned over fewer stages, within 1e-5), and a whole cluster stopped and the run resumed on a new one with
/// `sharelora resume --seed` (also past a corrupt newest checkpoint), and the seed itself SIGKILLed and restarted on its
/// state folder (the coordinator's journal resumes the job by itself, on fresh workers or on the same worker processes,
/// which rejoin by themselves). Every comparison is against an uninterrupted
/// single-process <see cref="LocalPipelineTrainer"/> run of the same job.
/// </summary>
public sealed partial class RecoveryTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(2);
    private readonly ClusterRunFixture _data = new();

    private string Folder => _data.Folder;

    [SkippableFact]
    public async Task AKilledStageWorkerIsReplacedByASpareAndTheRunEndsBitwiseAsIfUninterrupted()
    {
        var model = SharedAssets.Stories260K;
        var clock = Stopwatch.StartNew();
        using var cluster = await StartClusterAsync(3);
        double clockStart = clock.Elapsed.TotalSeconds;
        // Evaluating every 2 steps: the kill after step 4 rewinds to step 3, so step 4's evaluation is redone once.
        var jobPath = ClusterRunFixture.WriteJob(Folder, "spare", model, _data.DataFile, "share-a", 2, "1f1b", steps: 8, checkpointEvery: 3,
            evalData: _data.EvalFile, evalEvery: 2);
        var outputDir = Path.Combine(Folder, "spare");

        using var submit = NodeProcess.Start("submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait");
        var killedAt = await KillStageWorkerAfterAsync(cluster, outputDir, stage: 1, afterStep: 4);
        await WaitForRecoveryAsync("spare", cluster, outputDir, killedAt);
        int exit = submit.WaitForExit(JobTimeout);
        output.WriteLine($"spare: cluster up {clockStart:0.0} s, job ended {clock.Elapsed.TotalSeconds:0.0} s after the test started");
        Assert.True(exit == 0, $"submit --wait exited {exit}:\n{submit.Output}\n{cluster.Outputs()}");

        var recovered = Event(outputDir, "recovered");
        Assert.Equal(2, recovered.GetProperty("stages").GetInt32());
        Assert.Equal(2, recovered.GetProperty("stages_before").GetInt32());
        Report("spare", outputDir, killedAt, recovered);
        var lost = Event(outputDir, "worker_lost");
        Assert.Equal("1", lost.GetProperty("stage").GetString());

        var reference = RunReference(jobPath, "spare", stages: 2);
        AssertStepsEqual(reference, outputDir, tolerance: 0);
        AssertEvalsEqual(reference, outputDir, [0, 2, 4, 6, 8]);
        AssertAdapterEqual(reference, outputDir, tolerance: 0);
    }

    [SkippableFact]
    public async Task WithoutASpareTheRunIsReplannedOverTheLiveWorkersAndEndsWithinTolerance()
    {
        var model = SharedAssets.Stories260K;
        using var cluster = await StartClusterAsync(3);
        var jobPath = ClusterRunFixture.WriteJob(Folder, "shrink", model, _data.DataFile, "share-a", 3, "gpipe", steps: 8, checkpointEvery: 3);
        var outputDir = Path.Combine(Folder, "shrink");

        using var submit = NodeProcess.Start("submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait");
        var killedAt = await KillStageWorkerAfterAsync(cluster, outputDir, stage: 1, afterStep: 4);
        await WaitForRecoveryAsync("shrink", cluster, outputDir, killedAt);
        int exit = submit.WaitForExit(JobTimeout);
        Assert.True(exit == 0, $"submit --wait exited {exit}:\n{submit.Output}\n{cluster.Outputs()}");

        var recovered = Event(outputDir, "recovered");
        Assert.Equal(3, recovered.GetProperty("stages_before").GetInt32());
        Assert.Equal(2, recovered.GetProperty("stages").GetInt32());
        Report("shrink", outputDir, killedAt, recovered);

        var reference = RunReference(jobPath, "shrink", stages: 3);
        AssertStepsEqual(reference, outputDir, tolerance: 1e-5);
        AssertAdapterEqual(reference, outputDir, tolerance: 1e-5);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AStoppedClusterRunResumesOnANewClusterBitwise(bool corruptNewest)
    {
        var model = SharedAssets.Stories260K;
        var name = corruptNewest ? "resume-corrupt" : "resume";
        var jobPath = ClusterRunFixture.WriteJob(Folder, name, model, _data.DataFile, "share-a", 2, "1f1b", steps: 9, checkpointEvery: 3,
            evalData: _data.EvalFile, evalEvery: 3);
        var outputDir = Path.Combine(Folder, name);
        var checkpoints = Path.Combine(outputDir, "checkpoints");

        using (var first = await StartClusterAsync(2))
        {
            using var submit = NodeProcess.Start("submit", "--seed", first.Seed.ToString(), "--job", jobPath);
            int submitted = submit.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.True(submitted == 0, $"submit exited {submitted}:\n{submit.Output}\n{first.Outputs()}");
            // Two checkpoints when one is to be corrupted, so the previous one is there to fall back on.
            await WaitUntilAsync(() => Directory.Exists(Path.Combine(checkpoints, corruptNewest ? "step-000006" : "step-000003")),
                JobTimeout, () => first.Outputs());
            first.SeedProcess.Suspend(); // no further step; then every process of the first cluster is killed
        }

        var committed = Directory.GetDirectories(checkpoints, "step-*").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.DoesNotContain("step-000009", committed); // stopped mid-run
        string? corrupted = null;
        if (corruptNewest)
        {
            corrupted = committed[^1]!;
            var file = Path.Combine(checkpoints, corrupted, "adapter.safetensors");
            var bytes = File.ReadAllBytes(file);
            for (int i = bytes.Length - 16; i < bytes.Length; i++) bytes[i] ^= 0xFF;
            File.WriteAllBytes(file, bytes);
        }

        using (var second = await StartClusterAsync(2))
        {
            using var resume = NodeProcess.Start("resume", "--run", outputDir, "--seed", second.Seed.ToString(), "--wait");
            int exit = resume.WaitForExit(JobTimeout);
            Assert.True(exit == 0, $"resume --seed --wait exited {exit}:\n{resume.Output}\n{second.Outputs()}");
            Assert.Contains("resumed", resume.Output);
        }

        var resumeEvent = Event(outputDir, "resume");
        var log = File.ReadAllText(Path.Combine(outputDir, RunLog.FileName));
        if (corrupted is not null)
        {
            Assert.Contains($"checkpoint {corrupted} skipped", log);
            Assert.NotEqual(corrupted, resumeEvent.GetProperty("checkpoint").GetString());
            // Never deleted: still in place, or set aside as .invalid-step-... when the resumed run saved that step again.
            Assert.True(Directory.Exists(Path.Combine(checkpoints, corrupted))
                        || Directory.GetDirectories(checkpoints, $".invalid-{corrupted}*").Length > 0,
                $"the corrupt {corrupted} is gone: {string.Join(", ", Directory.GetDirectories(checkpoints).Select(Path.GetFileName))}");
        }
        output.WriteLine($"{name}: resumed from {resumeEvent.GetProperty("checkpoint").GetString()}; checkpoint save times (ms): " +
                         string.Join(", ", Events(outputDir, "checkpoint").Select(e => e.GetProperty("save_ms").GetDouble())));

        var reference = RunReference(jobPath, name, stages: 2);
        AssertStepsEqual(reference, outputDir, tolerance: 0);
        // The resumed run does not evaluate step 0 again: one baseline line, then one evaluation per due step.
        AssertEvalsEqual(reference, outputDir, [0, 3, 6, 9]);
        AssertAdapterEqual(reference, outputDir, tolerance: 0);
    }

    [SkippableFact]
    public async Task ASubmitOverCheckpointsAndAResumeThatChangesTheTrajectoryAreRefusedInOneLine()
    {
        var model = SharedAssets.Stories260K;
        var jobPath = ClusterRunFixture.WriteJob(Folder, "again", model, _data.DataFile, "share-a", 1, "gpipe", steps: 2);
        var outputDir = Path.Combine(Folder, "again");
        LocalPipelineTrainer.Run(ClusterRunFixture.Load(jobPath));
        var jobJson = File.ReadAllText(Path.Combine(outputDir, LocalPipelineTrainer.JobFileName));
        using var cluster = await StartClusterAsync(1);

        using (var submit = NodeProcess.Start("submit", "--seed", cluster.Seed.ToString(), "--job", jobPath))
        {
            Assert.NotEqual(0, submit.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Contains("already holds checkpoints", submit.Output);
            Assert.Contains("sharelora resume --run", submit.Output);
        }
        using (var resume = NodeProcess.Start("resume", "--run", outputDir, "--seed", cluster.Seed.ToString(), "--set", "seed=6"))
        {
            Assert.NotEqual(0, resume.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Contains("cannot resume: seed is 6 but the checkpoint was written with 5", resume.Output);
        }
        Assert.Equal(jobJson, File.ReadAllText(Path.Combine(outputDir, LocalPipelineTrainer.JobFileName))); // the refused job did not replace it
    }

    // workersSurvive: only the seed is killed; the same worker processes join the restarted seed by themselves (a new
    // ActorSystem each, NodeRunner). Otherwise the whole cluster is killed (a machine reboot) and fresh workers are started.
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AKilledSeedRestartedOnItsStateContinuesTheJobByItselfBitwise(bool workersSurvive)
    {
        var model = SharedAssets.Stories260K;
        var name = workersSurvive ? "seedloss-rejoin" : "seedloss";
        var jobPath = ClusterRunFixture.WriteJob(Folder, name, model, _data.DataFile, "share-a", 2, "1f1b", steps: 9, checkpointEvery: 3);
        var outputDir = Path.Combine(Folder, name);
        string? fast = null;
        if (workersSurvive)
        {
            // The workers notice the dead seed through the failure detector and the split-brain resolver: shorter than
            // base.hocon's 5 s pause and 20 s stable-after, for every node alike.
            fast = Path.Combine(Folder, "fast-downing-rejoin.hocon");
            File.WriteAllText(fast, "akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s\nakka.cluster.split-brain-resolver.stable-after = 4s\n");
        }
        using var cluster = await StartClusterAsync(2, fast);
        var workerPids = cluster.Workers.Select(w => w.Id).Order().ToArray();
        string jobId;
        using (var submit = NodeProcess.Start("submit", "--seed", cluster.Seed.ToString(), "--job", jobPath))
        {
            int submitted = submit.WaitForExit(TimeSpan.FromSeconds(60));
            Assert.True(submitted == 0, $"submit exited {submitted}:\n{submit.Output}\n{cluster.Outputs()}");
            jobId = System.Text.RegularExpressions.Regex.Match(submit.Output, @"job (\S+) submitted").Groups[1].Value;
        }

        // Mid-run, after a committed checkpoint (its event follows the journal's acknowledgement): freeze the seed so no
        // further step runs, then SIGKILL the seed (and, without workersSurvive, the workers of its cluster incarnation).
        await WaitUntilAsync(() => Events(outputDir, "checkpoint").Any(), JobTimeout, () => cluster.Outputs());
        cluster.SeedProcess.Suspend();
        var killedAt = DateTime.UtcNow;
        if (workersSurvive) cluster.KillSeed();
        else cluster.KillAll();
        int stepsAtKill = StepCount(outputDir);
        Assert.True(stepsAtKill < 9, $"the run ended before the kill ({stepsAtKill} steps)");

        // The same port and state folder: the coordinator resumes the job from its journal, nobody asks it to.
        cluster.RestartSeed();
        await cluster.WaitForWorkersAsync(0, TimeSpan.FromSeconds(60)); // workers dialling a seed not yet listening are gated 5 s
        var seedUp = (DateTime.UtcNow - killedAt).TotalSeconds;
        if (!workersSurvive)
        {
            cluster.AddWorker();
            cluster.AddWorker();
        }
        await cluster.WaitForWorkersAsync(2, TimeSpan.FromSeconds(90));
        var workersUp = (DateTime.UtcNow - killedAt).TotalSeconds;
        if (workersSurvive)
        {
            // The very processes started before the kill, each a member of the new seed's cluster.
            Assert.Equal(workerPids, cluster.Workers.Select(w => w.Id).Order().ToArray());
            Assert.All(cluster.Workers, w => Assert.False(w.HasExited));
            Assert.All(cluster.Workers, w => Assert.Contains("rejoin attempt 1: new ActorSystem started", w.Output));
        }
        await WaitUntilAsync(() => ResumedStepSeen(outputDir), JobTimeout, () => cluster.Outputs());
        if (workersSurvive)
        {
            // The node reports of the resumed run name the same worker processes (the report's node part comes from asks of
            // their own that may time out under load: ask again).
            int[] reported = [];
            var clock = Stopwatch.StartNew();
            while (!reported.SequenceEqual(workerPids) && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                var report = await StatusClient.QueryAsync(cluster.Seed, TimeSpan.FromSeconds(10));
                reported = report.Nodes.Where(n => n.Roles.Contains("worker")).Select(n => n.ProcessId).Order().ToArray();
            }
            Assert.Equal(workerPids, reported);
        }
        var seconds = (DateTime.UtcNow - killedAt).TotalSeconds;
        var resumeEvent = Event(outputDir, "resume");
        output.WriteLine($"{name}: seed SIGKILL at step {stepsAtKill} -> seed restarted{(workersSurvive ? ", the same 2 workers rejoined by themselves" : ", 2 workers restarted")} " +
                         $"-> first resumed step committed (seen in metrics.jsonl) {seconds:0.00} s (new seed Up {seedUp:0.0} s, workers Up {workersUp:0.0} s); " +
                         $"resumed from {resumeEvent.GetProperty("checkpoint").GetString()}");

        // `resume --seed` of the job the coordinator already runs: answered with its id and followed, not started twice.
        using (var resume = NodeProcess.Start("resume", "--run", outputDir, "--seed", cluster.Seed.ToString(), "--wait"))
        {
            int exit = resume.WaitForExit(JobTimeout);
            Assert.True(exit == 0, $"resume --seed --wait exited {exit}:\n{resume.Output}\n{cluster.Outputs()}");
            Assert.Contains($"job {jobId} resumed", resume.Output);
        }
        Assert.Single(Events(outputDir, "resume"));
        Assert.Contains($"job {jobId} resumed from the coordinator's state", cluster.SeedProcess.Output);

        var reference = RunReference(jobPath, name, stages: 2);
        AssertStepsEqual(reference, outputDir, tolerance: 0);
        AssertAdapterEqual(reference, outputDir, tolerance: 0);
    }

    [SkippableFact]
    public async Task TwoSeedsSharingTheStateFileTheSingletonMovesWhenTheOldestIsKilledAndTheJobContinuesBitwise()
    {
        var model = SharedAssets.Stories260K;
        var jobPath = ClusterRunFixture.WriteJob(Folder, "twoseeds", model, _data.DataFile, "share-a", 2, "1f1b", steps: 9, checkpointEvery: 3);
        var outputDir = Path.Combine(Folder, "twoseeds");
        var logs = Path.Combine(Folder, "logs-twoseeds");
        var state = Path.Combine(Folder, "state-twoseeds"); // one SQLite file for both seed-role nodes (same machine, local disk)
        // The dead seed must be downed by the split-brain resolver before the singleton moves: a shorter failure-detector
        // pause and stable-after than base.hocon's (5 s, 20 s) keep the test short, for every node alike.
        var fast = Path.Combine(Folder, "fast-downing.hocon");
        File.WriteAllText(fast, "akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s\nakka.cluster.split-brain-resolver.stable-after = 4s\n");
        var first = new ShareLoRA.Cluster.Config.HostPort("127.0.0.1", ShareLoRA.Cluster.Tests.Hosting.NodeHostTests.FreePort());
        var second = new ShareLoRA.Cluster.Config.HostPort("127.0.0.1", ShareLoRA.Cluster.Tests.Hosting.NodeHostTests.FreePort());
        string[] Common(string role) => ["node", role, "--host", "127.0.0.1", "--logs", logs, "--config", fast];
        using var seed1 = NodeProcess.Start([.. Common("seed"), "--port", first.Port.ToString(), "--state", state]);
        await WaitForMembersAsync(first, seeds: 1, workers: 0, () => seed1.Output);
        using var seed2 = NodeProcess.Start([.. Common("seed"), "--port", second.Port.ToString(), "--state", state, "--seed", first.ToString()]);
        using var worker1 = NodeProcess.Start([.. Common("worker"), "--seed", first.ToString()]);
        using var worker2 = NodeProcess.Start([.. Common("worker"), "--seed", first.ToString()]);
        string Outputs() => $"--- seed1 ---\n{seed1.Output}\n--- seed2 ---\n{seed2.Output}\n--- worker1 ---\n{worker1.Output}\n--- worker2 ---\n{worker2.Output}";
        await WaitForMembersAsync(first, seeds: 2, workers: 2, Outputs);

        using (var submit = NodeProcess.Start("submit", "--seed", first.ToString(), "--job", jobPath))
            Assert.True(submit.WaitForExit(TimeSpan.FromSeconds(60)) == 0, submit.Output);
        await WaitUntilAsync(() => Events(outputDir, "checkpoint").Any(), JobTimeout, Outputs);
        seed1.Suspend();
        var killedAt = DateTime.UtcNow;
        seed1.Kill(); // the oldest seed-role node, holding the coordinator singleton
        int stepsAtKill = StepCount(outputDir);
        Assert.True(stepsAtKill < 9, $"the run ended before the kill ({stepsAtKill} steps)");

        await WaitUntilAsync(() => Events(outputDir, "resume").Any(), JobTimeout, Outputs);
        var resumedAt = (DateTime.UtcNow - killedAt).TotalSeconds;
        await WaitUntilAsync(() => ResumedStepSeen(outputDir), JobTimeout, Outputs);
        var seconds = (DateTime.UtcNow - killedAt).TotalSeconds;
        output.WriteLine($"twoseeds: oldest seed SIGKILLed at step {stepsAtKill} -> downed, singleton on the other seed, journal read, job resumed " +
                         $"{resumedAt:0.00} s -> first resumed step committed {seconds:0.00} s (failure-detector pause 3 s, stable-after 4 s)");

        using (var resume = NodeProcess.Start("resume", "--run", outputDir, "--seed", second.ToString(), "--wait"))
        {
            int exit = resume.WaitForExit(JobTimeout);
            Assert.True(exit == 0, $"resume --seed --wait exited {exit}:\n{resume.Output}\n{Outputs()}");
        }
        Assert.Contains("resumed from the coordinator's state", seed2.Output);
        var reference = RunReference(jobPath, "twoseeds", stages: 2);
        AssertStepsEqual(reference, outputDir, tolerance: 0);
        AssertAdapterEqual(reference, outputDir, tolerance: 0);
    }

    private static async Task WaitForMembersAsync(ShareLoRA.Cluster.Config.HostPort seed, int seeds, int workers, Func<string> context)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var report = await StatusClient.QueryAsync(seed, TimeSpan.FromSeconds(5));
                if (report.Members.Count(m => m.Status == "Up" && m.Roles.Contains("seed")) >= seeds
                    && report.Members.Count(m => m.Status == "Up" && m.Roles.Contains("worker")) >= workers)
                    return;
            }
            catch (TimeoutException) { /* still starting */ }
            if (clock.Elapsed > TimeSpan.FromSeconds(90)) throw new TimeoutException($"{seeds} seed(s) and {workers} worker(s) not Up\n{context()}");
            await Task.Delay(300);
        }
    }

    // A step line after the "resume" event: the resumed run has committed its first step.
    private static bool ResumedStepSeen(string outputDir)
    {
        if (!File.Exists(Path.Combine(outputDir, MetricsWriter.FileName))) return false;
        var lines = Lines(outputDir);
        int resume = lines.FindIndex(l => l.TryGetProperty("event", out var e) && e.GetString() == "resume");
        return resume >= 0 && lines.Skip(resume + 1).Any(l => l.TryGetProperty("loss", out _));
    }

    // ---- helpers ----

    private async Task<LocalCluster> StartClusterAsync(int workers, string? configFile = null)
    {
        var cluster = new LocalCluster(Path.Combine(Folder, "logs-" + Guid.NewGuid().ToString("N")[..6]), configFile: configFile);
        try
        {
            for (int i = 0; i < workers; i++) cluster.AddWorker();
            await cluster.WaitForWorkersAsync(workers, TimeSpan.FromSeconds(90));
            return cluster;
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    // Once metrics.jsonl shows step afterStep, SIGKILLs the worker process holding the stage; returns when. The seed is
    // frozen (SIGSTOP) around the kill so the coordinator dispatches no further step in between, however fast steps are.
    private static async Task<DateTime> KillStageWorkerAfterAsync(LocalCluster cluster, string outputDir, int stage, int afterStep)
    {
        var victim = await WorkerOfStageAsync(cluster, stage);
        await WaitUntilAsync(() => StepCount(outputDir) >= afterStep, JobTimeout, () => cluster.Outputs());
        cluster.SeedProcess.Suspend();
        try { victim.Kill(); }
        finally { cluster.SeedProcess.Continue(); }
        return DateTime.UtcNow;
    }

    private static async Task<NodeProcess> WorkerOfStageAsync(LocalCluster cluster, int stage)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            // The report's job and node parts come from asks of their own that may time out under load, and the query
            // itself (a fresh client ActorSystem each time) may find no answer in time on a loaded machine: ask again.
            StatusReport? report = null;
            try { report = await StatusClient.QueryAsync(cluster.Seed, TimeSpan.FromSeconds(10)); }
            catch (TimeoutException) { /* no answer this time */ }
            var node = report?.Job is { State: JobStatus.Running } job ? job.Stages.SingleOrDefault(s => s.Index == stage)?.Node : null;
            if (report?.Nodes.SingleOrDefault(n => n.Address == node)?.ProcessId is { } pid) return cluster.Workers.Single(w => w.Id == pid);
            if (clock.Elapsed > JobTimeout)
                throw new TimeoutException($"no status naming stage {stage}'s worker: {report?.ToString() ?? "no answer"}\n{cluster.Outputs()}");
            await Task.Delay(200);
        }
    }

    // The kill -> first resumed step time as seen from outside: until the "recovered" line appears in metrics.jsonl.
    private async Task WaitForRecoveryAsync(string name, LocalCluster cluster, string outputDir, DateTime killedAt)
    {
        await WaitUntilAsync(() => Events(outputDir, "recovered").Any(), JobTimeout, () => cluster.Outputs());
        var seconds = (DateTime.UtcNow - killedAt).TotalSeconds;
        output.WriteLine($"{name}: SIGKILL -> first resumed step committed (seen in metrics.jsonl) {seconds:0.00} s");
        Assert.True(seconds < 120, $"{name}: recovery took {seconds:0} s");
    }

    private static int StepCount(string outputDir) =>
        File.Exists(Path.Combine(outputDir, MetricsWriter.FileName)) ? Lines(outputDir).Count(l => l.TryGetProperty("loss", out _)) : 0;

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> context)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"condition not met within {timeout.TotalSeconds:0} s\n{context()}");
            await Task.Delay(50);
        }
    }

    private static List<JsonElement> Lines(string outputDir)
    {
        // Read with sharing: the coordinator may be appending.
        using var stream = new FileStream(Path.Combine(outputDir, MetricsWriter.FileName), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var result = new List<JsonElement>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            try { result.Add(JsonDocument.Parse(line).RootElement.Clone()); }
            catch (JsonException) { /* a line being written */ }
        }
        return result;
    }

    private static IEnumerable<JsonElement> Events(string outputDir, string name) =>
        Lines(outputDir).Where(l => l.TryGetProperty("event", out var e) && e.GetString() == name);

    private static JsonElement Event(string outputDir, string name) =>
        Events(outputDir, name).LastOrDefault() is { ValueKind: JsonValueKind.Object } e
            ? e
            : throw new Xunit.Sdk.XunitException($"no \"{name}\" event in {outputDir}/metrics.jsonl:\n{File.ReadAllText(Path.Combine(outputDir, MetricsWriter.FileName))}");

    private void Report(string name, string outputDir, DateTime killedAt, JsonElement recovered)
    {
        double coordinatorSeconds = recovered.GetProperty("seconds").GetDouble();
        output.WriteLine($"{name}: loss noticed -> first resumed step committed {coordinatorSeconds:0.00} s (probe {recovered.GetProperty("detect_ms").GetDouble():0} ms), " +
                         $"from step {recovered.GetProperty("from_step").GetInt32()}; {recovered.GetProperty("stages_before").GetInt32()} -> {recovered.GetProperty("stages").GetInt32()} stage(s)");
        output.WriteLine($"{name}: checkpoint save times (ms): " + string.Join(", ", Events(outputDir, "checkpoint").Select(e => e.GetProperty("save_ms").GetDouble())));
        Assert.True(coordinatorSeconds < 120, $"{name}: recovery took {coordinatorSeconds:0} s");
        Assert.True(File.GetLastWriteTimeUtc(Path.Combine(outputDir, MetricsWriter.FileName)) > killedAt, "metrics.jsonl was not written after the kill");
    }

    private string RunReference(string jobPath, string name, int stages)
    {
        var referenceOutput = Path.Combine(Folder, name + "-reference");
        LocalPipelineTrainer.Run(ClusterRunFixture.Load(jobPath, $"pipeline.stages={stages}", $"output={referenceOutput}"));
        return referenceOutput;
    }

    // Every step once, 1..steps, after the rewinds; losses equal (tolerance 0: bitwise) to the reference's.
    private static void AssertStepsEqual(string referenceDir, string clusterDir, double tolerance)
    {
        var reference = ClusterRunFixture.StepLines(referenceDir);
        var cluster = ClusterRunFixture.StepLines(clusterDir);
        Assert.Equal(reference.Select(l => l.GetProperty("step").GetInt32()), cluster.Select(l => l.GetProperty("step").GetInt32()));
        for (int i = 0; i < reference.Count; i++)
        {
            double expected = reference[i].GetProperty("loss").GetDouble(), actual = cluster[i].GetProperty("loss").GetDouble();
            if (tolerance == 0) Assert.True(expected.Equals(actual), $"step {i + 1}: cluster loss {actual:R}, single-process {expected:R}");
            else Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Abs(expected), $"step {i + 1}: cluster loss {actual:R}, single-process {expected:R}");
        }
    }

    // The evaluations once each at the expected steps, bitwise equal to the single-process run's (same P).
    private static void AssertEvalsEqual(string referenceDir, string clusterDir, int[] steps)
    {
        var expected = ClusterRunFixture.EvalLosses(referenceDir);
        var actual = ClusterRunFixture.EvalLosses(clusterDir);
        Assert.Equal(steps, expected.Select(e => e.Step));
        Assert.Equal(steps, actual.Select(e => e.Step));
        for (int i = 0; i < steps.Length; i++)
            Assert.True(expected[i].Loss.Equals(actual[i].Loss), $"eval after step {steps[i]}: cluster {actual[i].Loss:R}, single-process {expected[i].Loss:R}");
    }

    private static void AssertAdapterEqual(string referenceDir, string clusterDir, double tolerance)
    {
        using var expectedBank = ClusterRunFixture.LoadAdapter(referenceDir);
        using var actualBank = ClusterRunFixture.LoadAdapter(clusterDir);
        Assert.Equal(expectedBank.Parameters.Select(p => p.Name).Order(), actualBank.Parameters.Select(p => p.Name).Order());
        foreach (var expected in expectedBank.Parameters)
        {
            using var scope = NewDisposeScope();
            var actual = actualBank.Find(expected.Name)!;
            if (tolerance == 0)
                Assert.True(eq(actual.Value, expected.Value).all().item<bool>(), $"adapter tensor {expected.Name} is not bitwise equal to the single-process run's");
            else
            {
                double diff = (actual.Value - expected.Value).abs().max().item<float>();
                Assert.True(diff <= tolerance, $"adapter tensor {expected.Name} differs by {diff:R} from the single-process run");
            }
        }
    }

    public void Dispose() => _data.Dispose();
}
