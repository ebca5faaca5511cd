using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using Xunit;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>
/// A job given in epochs trains exactly the resolved steps with the LR schedule of that step count, records the steps
/// in OUTPUT/job.json, and resumes from it. 40 examples in micro-batches of 3 = 14 per epoch; 3 per step -> 1 epoch is
/// 5 steps (the 5th borrows a micro-batch from epoch 2).
/// </summary>
public sealed class EpochsTrainTests
{
    private static readonly string[] Common = ["optim.schedule=linear", "checkpoint.every=2"];

    [Fact]
    public void AnEpochsJobTrainsTheResolvedStepsWithTheirScheduleAndResumes()
    {
        using var folder = new TempFolder();
        var config = TinyLlama.Config();
        var model = TrainerJobs.SaveModel(folder, config);
        var data = TrainerJobs.Data(config.VocabSize);
        JobConfig Job(string output, string length) =>
            TrainerJobs.Job(folder, model, "share-a", 1, Path.Combine(folder.Path, output), [.. Common, length]);

        var reference = Job("reference", "steps=5");
        using (var trainer = new LocalPipelineTrainer(reference, data, padId: 2)) trainer.Train();

        var epochs = Job("epochs", "epochs=1");
        Assert.Equal(1, epochs.Epochs);
        using (var trainer = new LocalPipelineTrainer(epochs, data, padId: 2))
        {
            Assert.Equal((5, null), (trainer.Job.Steps, trainer.Job.Epochs));
            Assert.Equal(5, trainer.Train().Steps.Count);
        }
        // Same steps, same schedule (it ends at step 5, not at some other total), same trajectory.
        foreach (var field in new[] { "loss", "lr" })
            Assert.Equal(ResumeTests.Field(reference.Output, field), ResumeTests.Field(epochs.Output, field));
        var written = JobConfig.Load(Path.Combine(epochs.Output, LocalPipelineTrainer.JobFileName));
        Assert.Equal((5, null), (written.Steps, written.Epochs));

        // Stopped after 2 steps and resumed from its job.json as `sharelora resume` does: the uninterrupted run's steps.
        var stopped = Job("stopped", "epochs=1");
        using (var trainer = new LocalPipelineTrainer(stopped, data, padId: 2)) trainer.Train(stopAfter: 2);
        using (var trainer = new LocalPipelineTrainer(LocalPipelineTrainer.LoadRunJob(stopped.Output), data, padId: 2))
        {
            Assert.Equal(2, trainer.RestoreLatest());
            trainer.Train();
        }
        foreach (var field in new[] { "loss", "lr" })
            Assert.Equal(ResumeTests.Field(reference.Output, field), ResumeTests.Field(stopped.Output, field));

        // The submitted epochs job itself (what the cluster resumes with) is compatible with the checkpoint too.
        using (var trainer = new LocalPipelineTrainer(stopped with { }, data, padId: 2))
            Assert.Equal(5, trainer.RestoreLatest());
    }
}
