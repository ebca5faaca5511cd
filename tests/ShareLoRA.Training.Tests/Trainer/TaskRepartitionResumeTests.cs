using System.Globalization;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Roberta;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.E2e;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>
/// Re-partition resume of task jobs: a GLUE (MRPC) job and a GPT-2 E2E job (label smoothing 0.1) stopped with a checkpoint
/// on one stage count and continued by a NEW trainer on another finish the run, and every step's loss, every eval loss
/// and every tensor of the adapter folder (GLUE: classifier.safetensors, the head the last stage owns) match the run
/// trained straight through at the new stage count, and the one at the old stage count, within 1e-5 (the tolerance of
/// <see cref="ResumeTests"/>' re-partition test: shared-matrix gradients are summed in another order across stages).
/// </summary>
/// <remarks>
/// What the asserts catch: the head and its AdamW moments live on the last stage, which is a different stage (and for
/// 1 -> 2 a different trainer slot) after a re-partition. A restore that left the head at its initial weights, or
/// restarted its AdamW (bias correction at step 1), moves the head by ~lr per element on the first resumed step, far
/// above 1e-5; lost label smoothing changes the written loss by far more than 1e-5 relative. Both were checked once by a
/// temporary edit in src (head AdamW dropped on restore: step 5's loss off by 6e-3 relative; smoothing 0 in the moved run:
/// loss off by 8e-4 relative), not committed.
/// </remarks>
public sealed class TaskRepartitionResumeTests
{
    private const int Steps = 6;
    private const int StopAfter = 3;
    private const double Tolerance = 1e-5;

    private static JobConfig At(JobConfig job, int stages, string output) => job with
    {
        Steps = Steps,
        Output = output,
        Checkpoint = job.Checkpoint with { Every = StopAfter, Keep = 2 },
        Data = job.Data with { EvalEvery = 2 },
        Pipeline = job.Pipeline with { Stages = stages },
    };

    /// <summary>Trains straight through at <paramref name="from"/> and at <paramref name="to"/> stages, and a run stopped
    /// after <see cref="StopAfter"/> steps at <paramref name="from"/> and resumed by a new trainer at <paramref name="to"/>;
    /// returns the two references and the resumed output.</summary>
    private static (string AtFrom, string AtTo, string Moved) Run(JobConfig job, string root, int from, int to, Func<JobConfig, LocalPipelineTrainer> create)
    {
        var atFrom = At(job, from, Path.Combine(root, "straight-from"));
        var atTo = At(job, to, Path.Combine(root, "straight-to"));
        using (var trainer = create(atFrom)) trainer.Train();
        using (var trainer = create(atTo)) trainer.Train();
        var moved = At(job, from, Path.Combine(root, "moved"));
        using (var trainer = create(moved)) trainer.Train(stopAfter: StopAfter);
        Assert.Equal(StopAfter, ResumeTests.Field(moved.Output, "loss").Count);
        using (var trainer = create(At(job, to, moved.Output)))
        {
            Assert.Equal(StopAfter, trainer.RestoreLatest());
            trainer.Train();
        }
        var text = File.ReadAllText(Path.Combine(moved.Output, "metrics.jsonl"));
        Assert.Contains($"\"stages_before\":{from},\"stages\":{to}", text);
        return (atFrom.Output, atTo.Output, moved.Output);
    }

    private static void AssertWithin(string expected, string actual, params string[] fields)
    {
        foreach (var field in fields)
        {
            var (e, a) = (ResumeTests.Field(expected, field), ResumeTests.Field(actual, field));
            Assert.Equal(e.Keys, a.Keys);
            foreach (var step in e.Keys)
            {
                double x = double.Parse(e[step], CultureInfo.InvariantCulture), y = double.Parse(a[step], CultureInfo.InvariantCulture);
                Assert.True(Math.Abs(x - y) <= Tolerance * Math.Abs(x), $"step {step}: {field} {y:R} in {actual} vs {x:R} in {expected}");
            }
        }
        Assert.Equal(Steps, ResumeTests.Field(actual, "loss").Count);
        var dir = Path.Combine(expected, LocalPipelineTrainer.AdapterFolder);
        var files = Directory.GetFiles(dir).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(files, Directory.GetFiles(Path.Combine(actual, LocalPipelineTrainer.AdapterFolder)).Select(Path.GetFileName).Order());
        foreach (var file in files.Where(f => f!.EndsWith(".safetensors", StringComparison.Ordinal)))
        {
            var (want, _) = SafetensorsFile.ReadFile(Path.Combine(dir, file!));
            var (got, _) = SafetensorsFile.ReadFile(Path.Combine(actual, LocalPipelineTrainer.AdapterFolder, file!));
            try
            {
                Assert.Equal(want.Keys.Order(), got.Keys.Order());
                foreach (var (name, w) in want)
                {
                    using var scope = NewDisposeScope();
                    double diff = (got[name].to(ScalarType.Float32) - w.to(ScalarType.Float32)).abs().max().item<float>();
                    Assert.True(diff <= Tolerance, $"{file}/{name} differs by {diff:R} in {actual} vs {expected}");
                }
            }
            finally
            {
                foreach (var t in want.Values.Concat(got.Values)) t.Dispose();
            }
        }
    }

    [SkippableTheory]
    [InlineData(3, 2)]
    [InlineData(1, 2)]
    public void AGlueJobResumesOnAnotherStageCountWithItsHeadWithin1e5(int from, int to)
    {
        var bpe = SharedAssets.RequireDirectory("tokenizers/roberta-base");
        using var folder = new TempFolder();
        var model = Path.Combine(folder.Path, "roberta");
        using (var roberta = RobertaModel.CreateRandom(new RobertaConfig(VocabSize: 50265, HiddenSize: 16, NumLayers: 3, NumHeads: 2,
                   IntermediateSize: 32, MaxPositions: 40, NumLabels: 2), seed: 4, initStd: 0.3))
            roberta.Save(model);
        foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(model, file));
        var (train, dev) = GlueDevMetricsTrainerTests.WriteTsvs(folder, regression: false);
        var job = GlueDevMetricsTrainerTests.Job(folder, model, "mrpc", from, "unused", train, dev);

        var (atFrom, atTo, moved) = Run(job, folder.Path, from, to, j => LocalPipelineTrainer.Create(j));
        Assert.True(File.Exists(Path.Combine(moved, LocalPipelineTrainer.AdapterFolder, RobertaAdapterExport.HeadFileName)));
        AssertWithin(atTo, moved, "loss", "eval_loss");
        AssertWithin(atFrom, moved, "loss", "eval_loss");
        // Dev metrics are counts over 11 rows: a 1e-5 drift of the logits leaves them as they are.
        foreach (var m in new[] { "dev_accuracy", "dev_f1" })
            Assert.Equal(ResumeTests.Field(atTo, m), ResumeTests.Field(moved, m));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1, 2)]
    public void AnE2eJobResumesOnAnotherStageCountWithLabelSmoothingWithin1e5(int from, int to)
    {
        using var folder = new TempFolder();
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var train = folder.Write("train.csv", E2eTrainJobTests.Csv);
        var job = E2eTrainJobTests.Job(folder, gpt2, from, train, eval: train, task: """{ "kind": "e2e", "label_smoothing": 0.1 }""");
        Assert.Equal(0.1, job.Task!.LabelSmoothing);
        var tokenizer = new E2eTrainJobTests.ModTokenizer();
        var data = E2eJobData.Prepare(job, tokenizer);

        var (atFrom, atTo, moved) = Run(job, folder.Path, from, to, j => new LocalPipelineTrainer(j, data, BatchCollator.PadIdOf(tokenizer)));
        AssertWithin(atTo, moved, "loss", "eval_loss");
        AssertWithin(atFrom, moved, "loss", "eval_loss");
        Assert.Equal(job.Task, LocalPipelineTrainer.LoadRunJob(moved).Task);
    }
}
