using ShareLoRA.Model.Roberta;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.E2e;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using Xunit;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>
/// Stop/resume of task jobs on 2 stages: a GPT-2 E2E job (label smoothing 0.1, adapter dropout 0.1) and RoBERTa GLUE jobs
/// (MRPC classification, STS-B regression; the head trained by the last stage's own AdamW). 6 steps with a checkpoint
/// and an evaluation every 2; a run stopped early and continued by a NEW trainer from its newest checkpoint gives the
/// uninterrupted run's losses, learning rates, grad norms, eval losses, dev metrics and adapter folder (GLUE: the
/// classifier.safetensors head too) bitwise.
/// </summary>
/// <remarks>
/// What the asserts catch: a restore that dropped the head's AdamW moments (or its step count) would restart the
/// head's bias-corrected update at step 1 magnitude, so the first resumed step's weights, and from then on the losses,
/// grad norms and classifier.safetensors, differ. A resumed trainer that lost the label smoothing trains the last
/// stage on plain cross-entropy: the first resumed step's "loss" field is the unsmoothed value and its gradients differ,
/// so the losses and the adapter differ. Both were checked once by a temporary edit in src (not committed).
/// </remarks>
public sealed class TaskResumeTests
{
    private const int Steps = 6;

    // Every step field the trainer writes for these jobs; eval_loss and the dev metrics sit on steps 2, 4 and 6
    // (step 0's baseline is an eval-only line, kept by the metrics rewind).
    private static readonly string[] StepFields = ["loss", "lr", "grad_norm", "eval_loss"];

    private static JobConfig WithResumeSettings(JobConfig job, string output) => job with
    {
        Steps = Steps,
        Output = output,
        Checkpoint = job.Checkpoint with { Every = 2, Keep = 3 },
        Data = job.Data with { EvalEvery = 2 },
    };

    /// <summary>Trains <paramref name="reference"/> straight through; trains <paramref name="stopped"/> to <paramref name="stopAfter"/>
    /// in one trainer, then restores its newest checkpoint in a fresh one and trains to the end.</summary>
    private static void RunBoth(JobConfig reference, JobConfig stopped, int stopAfter, Func<JobConfig, LocalPipelineTrainer> create)
    {
        using (var trainer = create(reference)) trainer.Train();
        using (var trainer = create(stopped)) trainer.Train(stopAfter: stopAfter);
        Assert.Equal(stopAfter, ResumeTests.Field(stopped.Output, "loss").Count);
        using (var trainer = create(stopped))
        {
            Assert.Equal(stopAfter, trainer.RestoreLatest());
            trainer.Train();
        }
    }

    private static void AssertBitwiseSameRun(string expected, string actual, params string[] metricFields)
    {
        foreach (var field in StepFields.Concat(metricFields))
            Assert.Equal(ResumeTests.Field(expected, field), ResumeTests.Field(actual, field));
        Assert.Equal(Steps, ResumeTests.Field(actual, "loss").Count);
        Assert.Equal([0L, 2L, 4L, 6L], ResumeTests.Field(actual, "eval_loss").Keys);
        var files = Directory.GetFiles(Path.Combine(expected, LocalPipelineTrainer.AdapterFolder)).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(files, Directory.GetFiles(Path.Combine(actual, LocalPipelineTrainer.AdapterFolder)).Select(Path.GetFileName).Order());
        foreach (var file in files)
            Assert.True(File.ReadAllBytes(Path.Combine(expected, LocalPipelineTrainer.AdapterFolder, file!))
                .AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, LocalPipelineTrainer.AdapterFolder, file!))), $"adapter/{file} differs");
        Assert.Contains("\"event\":\"resume\"", File.ReadAllText(Path.Combine(actual, "metrics.jsonl")));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(3)]
    public void AStoppedAndResumedE2eJobIsBitwiseTheUninterruptedRun(int stopAfter)
    {
        using var folder = new TempFolder();
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var train = folder.Write("train.csv", E2eTrainJobTests.Csv);
        var job = E2eTrainJobTests.Job(folder, gpt2, 2, train, eval: train, task: """{ "kind": "e2e", "label_smoothing": 0.1 }""");
        Assert.Equal(0.1, job.Task!.LabelSmoothing);
        Assert.Equal(0.1, job.Adapter.Dropout);
        var tokenizer = new E2eTrainJobTests.ModTokenizer();
        var data = E2eJobData.Prepare(job, tokenizer);
        Func<JobConfig, LocalPipelineTrainer> create = j => new LocalPipelineTrainer(j, data, BatchCollator.PadIdOf(tokenizer));
        var reference = WithResumeSettings(job, Path.Combine(folder.Path, "reference"));
        var stopped = WithResumeSettings(job, Path.Combine(folder.Path, "stopped"));

        RunBoth(reference, stopped, stopAfter, create);
        AssertBitwiseSameRun(reference.Output, stopped.Output);
        // The resumed run wrote the task section into OUTPUT/job.json (what `sharelora resume` reads) unchanged.
        Assert.Equal(job.Task, LocalPipelineTrainer.LoadRunJob(stopped.Output).Task);
    }

    [SkippableTheory]
    [InlineData("mrpc", 3)]
    [InlineData("stsb", 4)]
    public void AStoppedAndResumedGlueJobIsBitwiseTheUninterruptedRunHeadAndDevMetricsIncluded(string task, int stopAfter)
    {
        var bpe = SharedAssets.RequireDirectory("tokenizers/roberta-base");
        bool regression = task == "stsb";
        using var folder = new TempFolder();
        var model = Path.Combine(folder.Path, "roberta");
        using (var roberta = RobertaModel.CreateRandom(new RobertaConfig(VocabSize: 50265, HiddenSize: 16, NumLayers: 3, NumHeads: 2,
                   IntermediateSize: 32, MaxPositions: 40, NumLabels: regression ? 1 : 2), seed: 4, initStd: 0.3))
            roberta.Save(model);
        foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(model, file));
        var (train, dev) = GlueDevMetricsTrainerTests.WriteTsvs(folder, regression);
        var job = GlueDevMetricsTrainerTests.Job(folder, model, task, 2, "unused", train, dev);
        var reference = WithResumeSettings(job, Path.Combine(folder.Path, "reference"));
        var stopped = WithResumeSettings(job, Path.Combine(folder.Path, "stopped"));

        RunBoth(reference, stopped, stopAfter, j => LocalPipelineTrainer.Create(j));
        string[] metrics = regression ? ["dev_pearson", "dev_spearman"] : ["dev_accuracy", "dev_f1"];
        foreach (var m in metrics) Assert.Equal([2L, 4L, 6L], ResumeTests.Field(stopped.Output, m).Keys.Where(k => k > 0));
        AssertBitwiseSameRun(reference.Output, stopped.Output, metrics);
        Assert.True(File.Exists(Path.Combine(stopped.Output, LocalPipelineTrainer.AdapterFolder, RobertaAdapterExport.HeadFileName)));

        // The checkpoint the resume read holds the head (its AdamW moments ride along; the remarks say why the asserts
        // above would catch their loss).
        using var loaded = new CheckpointStore(stopped.Output).LoadLatestValid();
        using var state = TrainingCheckpoint.Read(loaded!);
        Assert.Contains(state.LayerTensorNames, TrainingCheckpoint.IsHead);
        Assert.Equal(job.Task, LocalPipelineTrainer.LoadRunJob(stopped.Output).Task);
    }
}
