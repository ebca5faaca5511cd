using System.Diagnostics;
using ShareLoRA.Model.IO;
using ShareLoRA.Training.SmallSystems;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>Recovery of a RoBERTa GLUE job, whose last stage also trains the classifier head (values and AdamW state).</summary>
public sealed partial class RecoveryTests
{
    /// <summary>
    /// SST-2 on a tiny random RoBERTa, 2 stages and a spare worker, a checkpoint every 2 steps: the worker holding the
    /// last stage (the head) is SIGKILLed after step 3, the spare takes the stage restored from the step-2 checkpoint.
    /// As in <see cref="AKilledStageWorkerIsReplacedByASpareAndTheRunEndsBitwiseAsIfUninterrupted"/>, the reference is the
    /// UNINTERRUPTED single-process run with the same P (a recovery onto a spare is bitwise the same run): every step's
    /// loss and grad norm, the evaluations, the adapter, the head (classifier.safetensors) and the PEFT files equal it bitwise.
    /// Why this catches a head restored without its AdamW state: step 3's loss would still match (the head's values are
    /// right), but its update would start from zeroed moments at AdamW step 1 (a bias-corrected step of about lr * sign(grad))
    /// instead of the moments of steps 1-2, so the head after step 3, step 4's loss and everything after would differ.
    /// Checked by hand: zeroing the head's optimizer state in the stage's restore fails this test at step 4's loss.
    /// </summary>
    [SkippableFact]
    public async Task AKilledLastStageWorkerOfAGlueJobIsReplacedByASpareAndItsClassifierHeadResumesBitwise()
    {
        const string name = "glue-spare";
        var model = ClusterRunFixture.WriteTinyRoberta(Folder, "sst2");
        var data = ClusterRunFixture.WriteGlueTsv(Folder, "sst2");
        var outputDir = Path.Combine(Folder, name);
        var jobPath = Path.Combine(Folder, name + ".json");
        // 12 rows, 6 per step: two steps per epoch, so the rewind also re-enters an epoch's shuffle from the cursor.
        File.WriteAllText(jobPath, $$"""
            {
              "name": "{{name}}",
              "model": "{{model}}",
              "task": { "kind": "glue", "name": "sst2" },
              "data": { "train": "{{data}}", "eval": "{{data}}", "eval_every": 2, "source_max_len": 24 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["q", "v"] },
              "optim": { "lr": 1e-2, "max_grad_norm": 0.5, "weight_decay": 0.01 },
              "batch": { "micro_batch_size": 2, "micro_batches": 3 },
              "steps": 6,
              "seed": 5,
              "output": "{{outputDir}}",
              "pipeline": { "stages": 2, "schedule": "1f1b" },
              "checkpoint": { "every": 2, "keep": 3 }
            }
            """);
        var clock = Stopwatch.StartNew();
        using var cluster = await StartClusterAsync(3);
        double clusterUp = clock.Elapsed.TotalSeconds;

        using var submit = NodeProcess.Start("submit", "--seed", cluster.Seed.ToString(), "--job", jobPath, "--wait");
        var killedAt = await KillStageWorkerAfterAsync(cluster, outputDir, stage: 1, afterStep: 3);
        await WaitForRecoveryAsync(name, cluster, outputDir, killedAt);
        int exit = submit.WaitForExit(JobTimeout);
        output.WriteLine($"{name}: cluster up {clusterUp:0.0} s, job ended {clock.Elapsed.TotalSeconds:0.0} s after the test started");
        Assert.True(exit == 0, $"submit --wait exited {exit}:\n{submit.Output}\n{cluster.Outputs()}");

        var lost = Event(outputDir, "worker_lost");
        Assert.Equal("1", lost.GetProperty("stage").GetString()); // the last stage, the one with the head
        var recovered = Event(outputDir, "recovered");
        Assert.Equal(2, recovered.GetProperty("stages_before").GetInt32());
        Assert.Equal(2, recovered.GetProperty("stages").GetInt32());
        // Continued from a checkpoint (step 2, or 4 when the kill came late), never from step 0: the head was restored.
        int from = recovered.GetProperty("from_step").GetInt32();
        Assert.True(from is 2 or 4, $"recovered from step {from}, expected a checkpoint before the last step");
        Report(name, outputDir, killedAt, recovered);

        var reference = RunReference(jobPath, name, stages: 2);
        AssertStepsEqual(reference, outputDir, tolerance: 0);
        Assert.Equal(ClusterRunFixture.StepLines(reference).Select(l => l.GetProperty("grad_norm").GetDouble()),
            ClusterRunFixture.StepLines(outputDir).Select(l => l.GetProperty("grad_norm").GetDouble()));
        AssertEvalsEqual(reference, outputDir, [0, 2, 4, 6]);
        AssertAdapterEqual(reference, outputDir, tolerance: 0);
        ClusterRunFixture.AssertHeadBitwiseAndTrained(reference, outputDir, model);
        ClusterRunFixture.AssertPeftFilesEqual(reference, outputDir);
    }
}
