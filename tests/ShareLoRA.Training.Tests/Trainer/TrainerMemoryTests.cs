using System.Diagnostics;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using TorchSharp;
using Xunit;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>
/// Runs alone: the working set is process-wide, so test classes running in parallel in the same process would add
/// their own allocations to the growth this test measures (seen in CI: 88 MB from neighbours, not from the trainer).
/// </summary>
[CollectionDefinition(nameof(TrainerMemoryTests), DisableParallelization = true)]
public sealed class TrainerMemoryCollection;

[Collection(nameof(TrainerMemoryTests))]
public sealed class TrainerMemoryTests
{
    /// <summary>
    /// 200 micro-batches (100 steps x 2) through two stages. After warm-up, the number of live tensor handles on this
    /// thread must not change from step to step (exact: any per-step tensor not disposed shows), and the process working
    /// set must not grow by 50 MB: the vocabulary is large so that one micro-batch's graph holds a few MB of logits and
    /// a retained graph would add hundreds of MB.
    /// </summary>
    [Fact]
    public void TwoHundredMicroStepsLeakNeitherTensorsNorMemory()
    {
        using var folder = new TempFolder();
        var config = TinyLlama.Config(layers: 2, vocab: 2048, hidden: 32);
        var model = TrainerJobs.SaveModel(folder, config);
        var data = TrainerJobs.Data(config.VocabSize, train: 64, eval: 4, minLength: 40, maxLength: 48);
        var job = TrainerJobs.Job(folder, model, "share-a", 2, Path.Combine(folder.Path, "out"),
            "steps=100", "batch.micro_batches=2", "batch.micro_batch_size=4");
        using var trainer = new LocalPipelineTrainer(job, data, padId: 2);

        for (int i = 0; i < 20; i++) trainer.TrainStep();
        trainer.Evaluate();
        Settle();
        long liveAfterWarmUp = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        long workingSetAfterWarmUp = Process.GetCurrentProcess().WorkingSet64;

        for (int i = 20; i < 100; i++)
        {
            trainer.TrainStep();
            Assert.Equal(liveAfterWarmUp, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
        trainer.Evaluate();
        Settle();
        Assert.Equal(liveAfterWarmUp, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        long growth = Process.GetCurrentProcess().WorkingSet64 - workingSetAfterWarmUp;
        Assert.True(growth < 50L << 20, $"working set grew by {growth >> 20} MB over 160 micro-batches after warm-up");
    }

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
