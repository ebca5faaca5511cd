using System.Globalization;

namespace ShareLoRA.Training.Jobs;

/// <summary>
/// Turns a job's "epochs" into optimizer steps once its training data is prepared, so the LR schedule, the training
/// loop, the progress display and the cluster coordinator all see one step count.
/// </summary>
public static class JobSteps
{
    /// <summary>
    /// Optimizer steps that cover <paramref name="epochs"/> passes over <paramref name="trainExamples"/> examples, as the
    /// <see cref="Data.DataLoader"/> serves them: an epoch is ceil(examples / micro_batch_size) micro-batches (its last
    /// one may be short) and a step takes micro_batches micro-batches in a row, across an epoch boundary when needed. So
    /// steps = ceil(epochs x ceil(examples / micro_batch_size) / micro_batches); with micro_batches 1 this is Hugging
    /// Face Trainer's count, and it equals ceil(epochs x examples / sequences per step) whenever micro_batch_size divides
    /// the example count. A last step that is not full borrows micro-batches from the next epoch.
    /// </summary>
    public static int StepsFor(int epochs, int trainExamples, int microBatchSize, int microBatches)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epochs);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(trainExamples);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(microBatchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(microBatches);
        long batchesPerEpoch = (trainExamples + (long)microBatchSize - 1) / microBatchSize;
        long steps = (epochs * batchesPerEpoch + microBatches - 1) / microBatches;
        if (steps > int.MaxValue) throw new JobConfigException($"epochs {epochs} of {trainExamples} examples is {steps} steps, more than {int.MaxValue}");
        return (int)steps;
    }

    /// <summary>
    /// <paramref name="job"/> with <see cref="JobConfig.Steps"/> set from its epochs and <see cref="JobConfig.Epochs"/>
    /// cleared (a steps job is returned as it is). The resolved job is what the run's job.json and checkpoints record,
    /// so a resume keeps the same schedule even if the data later changes.
    /// </summary>
    /// <exception cref="JobConfigException">optim.warmup_steps exceeds the resolved steps.</exception>
    public static JobConfig Resolve(JobConfig job, int trainExamples)
    {
        if (job.Epochs is not { } epochs) return job;
        var steps = StepsFor(epochs, trainExamples, job.Batch.MicroBatchSize, job.Batch.MicroBatches);
        if (job.Optim.WarmupSteps > steps)
            throw new JobConfigException(
                $"job '{job.Name}': optim.warmup_steps must be <= steps ({Describe(job, trainExamples)}) (got {job.Optim.WarmupSteps})");
        return job with { Steps = steps, Epochs = null };
    }

    /// <summary><see cref="Resolve(JobConfig, int)"/>, logging the resolution ("epochs 5 -> 26,290 steps ...") when there is one:
    /// the local trainer and the cluster coordinator resolve and log alike.</summary>
    public static JobConfig Resolve(JobConfig job, int trainExamples, Serilog.ILogger log)
    {
        if (job.Epochs is null) return job;
        log.Information("{Resolution}", Describe(job, trainExamples));
        return Resolve(job, trainExamples);
    }

    /// <summary>"epochs 5 -> 26,290 steps (42,061 examples, 8 per step)" for an epochs job, else "3000 steps".</summary>
    public static string Describe(JobConfig job, int trainExamples) => job.Epochs is { } epochs
        ? string.Format(CultureInfo.InvariantCulture, "epochs {0} -> {1:N0} steps ({2:N0} examples, {3} per step)",
            epochs, StepsFor(epochs, trainExamples, job.Batch.MicroBatchSize, job.Batch.MicroBatches), trainExamples, job.SequencesPerStep)
        : string.Create(CultureInfo.InvariantCulture, $"{job.Steps} steps");
}
