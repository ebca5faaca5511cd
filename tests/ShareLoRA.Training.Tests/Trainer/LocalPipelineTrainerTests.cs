using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Trainer;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Trainer;

public sealed class LocalPipelineTrainerTests
{
    [Theory]
    [InlineData("lora")]
    [InlineData("share-a")]
    public void OneTwoAndThreeStagesFollowTheSameTrajectory(string method)
    {
        using var folder = new TempFolder();
        var config = TinyLlama.Config();
        var model = TrainerJobs.SaveModel(folder, config);
        var data = TrainerJobs.Data(config.VocabSize);

        var runs = new List<(IReadOnlyList<double> Losses, Dictionary<string, Tensor> Adapters)>();
        foreach (var stages in new[] { 1, 2, 3 })
        {
            var job = TrainerJobs.Job(folder, model, method, stages, Path.Combine(folder.Path, $"out{stages}"));
            using var trainer = new LocalPipelineTrainer(job, data, padId: 2);
            Assert.Equal(stages, trainer.Stages.Count);
            var losses = Enumerable.Range(0, job.Steps).Select(_ => trainer.TrainStep().Loss).ToList();
            using var bank = trainer.GatherAdapters();
            runs.Add((losses, bank.Parameters.ToDictionary(p => p.Name, p => p.Value.detach().clone().DetachFromDisposeScope())));
        }

        var (refLosses, refAdapters) = runs[0];
        foreach (var (losses, adapters) in runs.Skip(1))
        {
            for (int i = 0; i < refLosses.Count; i++)
                Assert.True(Math.Abs(losses[i] - refLosses[i]) <= 1e-5 * Math.Abs(refLosses[i]),
                    $"{method} step {i + 1}: loss {losses[i]:R} vs {refLosses[i]:R} with one stage");
            foreach (var (name, expected) in refAdapters)
            {
                using var scope = NewDisposeScope();
                double diff = (adapters[name] - expected).abs().max().item<float>();
                Assert.True(diff <= 1e-5, $"{method}: adapter tensor {name} differs by {diff:R} from the one-stage run");
            }
        }
        foreach (var run in runs) TinyLlama.DisposeAll(run.Adapters.Values);
        // The trajectory actually moved: this is not the trivial "nothing trained" agreement.
        Assert.NotEqual(refLosses[0], refLosses[^1]);
    }

    [Fact]
    public void TheSameJobTwiceGivesBitwiseEqualMetricsAndAdapterFiles()
    {
        using var folder = new TempFolder();
        var config = TinyLlama.Config();
        var model = TrainerJobs.SaveModel(folder, config);
        var data = TrainerJobs.Data(config.VocabSize);
        var outputs = new[] { "first", "second" }.Select(n => Path.Combine(folder.Path, n)).ToArray();
        foreach (var output in outputs)
        {
            var job = TrainerJobs.Job(folder, model, "share-ab", 2, output, "data.eval_every=2", "data.eval_fraction=0.1");
            using var trainer = new LocalPipelineTrainer(job, data, padId: 2);
            trainer.Train();
        }
        Assert.Equal(Field(outputs[0], "loss"), Field(outputs[1], "loss"));
        Assert.Equal(Field(outputs[0], "eval_loss"), Field(outputs[1], "eval_loss"));
        Assert.Equal(Field(outputs[0], "grad_norm"), Field(outputs[1], "grad_norm"));
        foreach (var file in new[] { PeftAdapterFormat.WeightsFileName, NativeAdapterFormat.FileName })
            Assert.Equal(File.ReadAllBytes(Path.Combine(outputs[0], "adapter", file)), File.ReadAllBytes(Path.Combine(outputs[1], "adapter", file)));
    }

    [Fact]
    public void TrainWritesJobMetricsAndAdaptersThatLoadBack()
    {
        using var folder = new TempFolder();
        var config = TinyLlama.Config();
        var model = TrainerJobs.SaveModel(folder, config);
        var output = Path.Combine(folder.Path, "run");
        var job = TrainerJobs.Job(folder, model, "share-a", 2, output, "data.eval_every=3", "data.eval_fraction=0.1", "steps=5");
        using var trainer = new LocalPipelineTrainer(job, TrainerJobs.Data(config.VocabSize), padId: 2);
        var result = trainer.Train();

        Assert.Equal(5, result.Steps.Count);
        Assert.NotNull(result.InitialEvalLoss);
        Assert.Equal(result.FinalEvalLoss, result.Steps[^1].EvalLoss);
        var lines = File.ReadAllLines(Path.Combine(output, MetricsWriter.FileName));
        Assert.Equal(7, lines.Length); // the eval before training, one line per step, the final checkpoint's event
        Assert.Contains("\"eval_loss\"", lines[0]);
        foreach (var field in new[] { "step", "loss", "lr", "grad_norm", "clip_coefficient", "tokens", "target_tokens", "tokens_per_s", "wall_s" })
            Assert.Contains($"\"{field}\":", lines[1]);
        Assert.Contains("\"eval_loss\"", lines[3]);   // step 3
        Assert.Contains("\"eval_loss\"", lines[5]);   // the last step
        Assert.StartsWith("{\"event\":\"checkpoint\",\"step\":5,", lines[6]);
        Assert.Equal(job.ToJson(), JobConfig.Load(Path.Combine(output, LocalPipelineTrainer.JobFileName)).ToJson());

        using var gathered = trainer.GatherAdapters();
        using var native = NativeAdapterFormat.Load(Path.Combine(output, "adapter", NativeAdapterFormat.FileName));
        using var peft = PeftAdapterFormat.Import(Path.Combine(output, "adapter"));
        Assert.Equal("share-a", peft.Layout.MethodName);
        Assert.Equal(gathered.Parameters.Count(p => p.Shared), native.Parameters.Count(p => p.Shared));
        foreach (var p in gathered.Parameters)
        {
            Assert.True(eq(p.Value, native.Find(p.Name)!.Value).all().item<bool>(), p.Name);
            Assert.True(eq(p.Value, peft.Find(p.Name)!.Value).all().item<bool>(), p.Name);
        }
    }

    [Fact]
    public void AJobThatDoesNotFitTheModelFailsWithAClearMessage()
    {
        using var folder = new TempFolder();
        var config = TinyLlama.Config();
        var model = TrainerJobs.SaveModel(folder, config);
        var data = TrainerJobs.Data(config.VocabSize);
        var tooWide = TrainerJobs.Job(folder, model, "lora", 1, Path.Combine(folder.Path, "o"), "adapter.rank=64");
        var ex = Assert.Throws<JobConfigException>(() => new LocalPipelineTrainer(tooWide, data, 2));
        Assert.Contains("adapter.rank 64 exceeds the q projection", ex.Message);
        Assert.Contains("config.json", ex.Message);

        var tooManyStages = TrainerJobs.Job(folder, model, "lora", 4, Path.Combine(folder.Path, "o"));
        ex = Assert.Throws<JobConfigException>(() => new LocalPipelineTrainer(tooManyStages, data, 2));
        Assert.Contains("pipeline.stages 4 exceeds the 3 decoder layers", ex.Message);

        var noModel = TrainerJobs.Job(folder, Path.Combine(folder.Path, "missing"), "lora", 1, Path.Combine(folder.Path, "o"));
        Assert.Throws<FileNotFoundException>(() => new LocalPipelineTrainer(noModel, data, 2));
    }

    private static List<string> Field(string output, string name) =>
        File.ReadAllLines(Path.Combine(output, MetricsWriter.FileName))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty(name, out _))
            .Select(e => e.GetProperty(name).GetRawText())
            .ToList();
}
