using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>A `train` job (causal LM on instruction/text data) over a GPT-2 model directory, through the same local trainer as Llama.</summary>
public sealed class Gpt2TrainJobTests
{
    private static JobConfig Job(TempFolder folder, string modelDir, string method, int stages, string output, string targets = "[\"q\", \"v\"]",
        int sourceMax = 14, int targetMax = 14)
    {
        var path = folder.Write($"job-{Guid.NewGuid():N}.json", $$"""
            {
              "name": "tiny-gpt2",
              "model": "{{modelDir}}",
              "data": { "train": "unused.jsonl", "source_max_len": {{sourceMax}}, "target_max_len": {{targetMax}} },
              "adapter": { "method": "{{method}}", "rank": 4, "alpha": 32, "dropout": 0.1, "targets": {{targets}} },
              "optim": { "lr": 1e-2, "max_grad_norm": 0.5, "weight_decay": 0.01 },
              "batch": { "micro_batch_size": 3, "micro_batches": 3 },
              "steps": 3,
              "seed": 5,
              "output": "{{output}}",
              "pipeline": { "stages": {{stages}} }
            }
            """);
        return JobConfig.Load(path);
    }

    [Theory]
    [InlineData("share-a")]
    [InlineData("lora")]
    public void OneTwoAndThreeStagesFollowTheSameTrajectoryAndExportPeftOnCAttn(string method)
    {
        using var folder = new TempFolder();
        var model = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var data = TrainerJobs.Data(TinyFamilies.Vocab);
        var runs = new List<(List<double> Losses, Dictionary<string, Tensor> Adapters)>();
        foreach (var stages in new[] { 1, 2, 3 })
        {
            var job = Job(folder, model, method, stages, Path.Combine(folder.Path, $"out{stages}"));
            using var trainer = new LocalPipelineTrainer(job, data, padId: 2);
            Assert.Equal(ShareLoRA.Model.ModelFamily.Gpt2, trainer.ModelShape.Family);
            Assert.Equal(stages, trainer.Stages.Count);
            var losses = Enumerable.Range(0, job.Steps).Select(_ => trainer.TrainStep().Loss).ToList();
            using var bank = trainer.GatherAdapters();
            runs.Add((losses, bank.Parameters.ToDictionary(p => p.Name, p => p.Value.detach().clone().DetachFromDisposeScope())));
            if (stages == 2)
            {
                var adapterDir = Path.Combine(folder.Path, "adapter2");
                trainer.SaveAdapter(adapterDir);
                using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(adapterDir, PeftAdapterFormat.ConfigFileName)));
                Assert.Equal(["attn.c_attn"], doc.RootElement.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
                Assert.True(File.Exists(Path.Combine(adapterDir, NativeAdapterFormat.FileName)));
            }
        }
        var (refLosses, reference) = runs[0];
        foreach (var (losses, adapters) in runs.Skip(1))
        {
            TinyFamilies.AssertLossesClose(refLosses, losses, 1e-5, $"gpt2 train job {method}");
            TinyFamilies.AssertClose(reference, adapters, 1e-5, $"gpt2 train job {method}");
        }
        Assert.NotEqual(refLosses[0], refLosses[^1]);
        foreach (var run in runs) TinyLlama.DisposeAll(run.Adapters.Values);
    }

    [Fact]
    public void JobsThatDoNotFitAGpt2OrRobertaModelFailWithOneLineNamingTheField()
    {
        using var folder = new TempFolder();
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var roberta = TinyFamilies.SaveRoberta(Path.Combine(folder.Path, "roberta"));
        var output = Path.Combine(folder.Path, "out");

        var gate = Assert.Throws<JobConfigException>(() => LocalPipelineTrainer.ResolveModelShape(
            Job(folder, gpt2, "share-a", 1, output, "[\"q\", \"gate\"]")));
        Assert.Contains("adapter.targets lists gate", gate.Message);
        Assert.Contains("adaptable: q, k, v, o, up, down", gate.Message);

        var tooLong = Assert.Throws<JobConfigException>(() => LocalPipelineTrainer.ResolveModelShape(
            Job(folder, gpt2, "share-a", 1, output, sourceMax: 30, targetMax: 30)));
        Assert.Contains("exceeds n_positions 32", tooLong.Message);

        var classifier = Assert.Throws<JobConfigException>(() => LocalPipelineTrainer.ResolveModelShape(Job(folder, roberta, "share-a", 1, output)));
        Assert.Contains("sharelora glue", classifier.Message);

        // The Llama-only entry point says so instead of failing on a Llama field.
        var llamaOnly = Assert.Throws<JobConfigException>(() => LocalPipelineTrainer.ResolveModel(Job(folder, gpt2, "share-a", 1, output)));
        Assert.Contains("is a gpt2 model", llamaOnly.Message);
        Assert.DoesNotContain('\n', llamaOnly.Message);
    }

    [SkippableFact]
    public void AJobFileOverAGpt2DirectoryWithItsBpeTrainsOnAlpacaDataEndToEnd()
    {
        using var folder = new TempFolder();
        var modelDir = Path.Combine(folder.Path, "gpt2");
        using (var model = Gpt2Model.CreateRandom(new Gpt2Config(VocabSize: 50257, MaxPositions: 64, HiddenSize: 16, NumLayers: 2, NumHeads: 2, InnerSize: 32),
                   TinyFamilies.ModelSeed))
            model.Save(modelDir);
        var bpe = SharedAssets.RequireDirectory("tokenizers/gpt2");
        foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(modelDir, file));
        var train = folder.Write("alpaca.jsonl", string.Join("\n", Enumerable.Range(0, 12).Select(i =>
            JsonSerializer.Serialize(new { instruction = $"Add {i} and {i + 1}.", input = "", output = $"{2 * i + 1}" }))) + "\n");
        var path = folder.Write("job.json", $$"""
            {
              "name": "gpt2-alpaca",
              "model": "{{modelDir}}",
              "data": { "train": "{{train}}", "source_max_len": 32, "target_max_len": 8 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 32, "dropout": 0.1, "targets": ["q", "v"] },
              "optim": { "lr": 1e-2 },
              "batch": { "micro_batch_size": 2, "micro_batches": 2 },
              "steps": 3,
              "output": "{{Path.Combine(folder.Path, "run")}}",
              "pipeline": { "stages": 2, "schedule": "1f1b" }
            }
            """);
        var result = LocalPipelineTrainer.Run(JobConfig.Load(path));
        Assert.Equal(3, result.Steps.Count);
        Assert.All(result.Steps, m => Assert.True(double.IsFinite(m.Loss) && m.TargetTokens > 0));
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(result.AdapterDirectory, PeftAdapterFormat.ConfigFileName)));
        Assert.Equal(8, doc.RootElement.GetProperty("r").GetInt32());          // q and v stacked on c_attn: 2 x r
        Assert.True(File.Exists(Path.Combine(result.OutputDirectory, "checkpoints", "step-000003", "manifest.json")));
    }
}
