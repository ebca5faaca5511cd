using System.Text.Json;
using ShareLoRA.Model.Roberta;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tests.Pipeline;
using ShareLoRA.Training.Trainer;
using Xunit;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>A job with "task": {"kind": "glue"} over a RoBERTa directory, through the same local pipeline trainer as the LMs.</summary>
public sealed class GlueTrainJobTests
{
    private static JobConfig Job(TempFolder folder, string modelDir, string task, int stages, string output, string train = "unused.tsv")
    {
        var path = folder.Write($"job-{Guid.NewGuid():N}.json", $$"""
            {
              "name": "tiny-glue",
              "model": "{{modelDir}}",
              "task": { "kind": "glue", "name": "{{task}}" },
              "data": { "train": "{{train}}", "source_max_len": 24 },
              "adapter": { "method": "share-a", "rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["q", "v"] },
              "optim": { "lr": 1e-2, "max_grad_norm": 0.5, "weight_decay": 0.01 },
              "batch": { "micro_batch_size": 2, "micro_batches": 3 },
              "steps": 3,
              "seed": 5,
              "output": "{{output}}",
              "pipeline": { "stages": {{stages}} }
            }
            """);
        return JobConfig.Load(path);
    }

    [Fact]
    public void TheTaskSectionRoundTripsAndIsAbsentFromJobsWithoutOne()
    {
        using var folder = new TempFolder();
        var job = Job(folder, "model", "SST-2", 1, "out");
        Assert.Equal(new TaskConfig("glue", "SST-2"), job.Task);
        var json = job.ToJson();
        var again = JobConfig.Parse(json, "saved", folder.Path);
        Assert.Equal(job.Task, again.Task);
        Assert.Equal(json, again.ToJson());
        Assert.Null((job with { Task = null }).ToJsonObject()["task"]);

        var bad = Assert.Throws<JobConfigException>(() => JobConfig.Load(folder.Write("bad.json",
            """{ "model": "m", "task": { "kind": "glue", "name": "squad" }, "data": { "train": "t.tsv" } }""")));
        Assert.Contains("task.name", bad.Message);
        Assert.Contains("unknown GLUE task 'squad'", bad.Message);
        var kind = Assert.Throws<JobConfigException>(() => JobConfig.Load(folder.Write("kind.json",
            """{ "model": "m", "task": { "kind": "squad", "name": "x" }, "data": { "train": "t.tsv" } }""")));
        Assert.Contains("task.kind", kind.Message);
    }

    [Fact]
    public void TheExampleGlueJobLoads()
    {
        var job = JobConfig.Load(Path.Combine(SharedAssets.RepoRoot, "jobs", "example-glue-sst2-roberta-base.json"));
        Assert.Equal(new TaskConfig("glue", "sst2"), job.Task);
        Assert.Equal(16, job.SequencesPerStep);
        Assert.Equal(60, job.Epochs);
        Assert.Equal(252570, JobSteps.Resolve(job, 67349).Steps); // 60 epochs of 8,419 micro-batches of 8, 2 per step
        Assert.Equal(["q", "v"], job.Adapter.Targets);
    }

    [Fact]
    public void GlueJobsThatDoNotFitTheModelFailWithOneLine()
    {
        using var folder = new TempFolder();
        var roberta = TinyFamilies.SaveRoberta(Path.Combine(folder.Path, "roberta"), numLabels: 2);
        var gpt2 = TinyFamilies.SaveGpt2(Path.Combine(folder.Path, "gpt2"));
        var output = Path.Combine(folder.Path, "out");

        var labels = Assert.Throws<JobConfigException>(() => LocalPipelineTrainer.ResolveModelShape(Job(folder, roberta, "stsb", 1, output)));
        Assert.Contains("num_labels 2 but STS-B needs 1", labels.Message);
        var family = Assert.Throws<JobConfigException>(() => LocalPipelineTrainer.ResolveModelShape(Job(folder, gpt2, "sst2", 1, output)));
        Assert.Contains("needs a RoBERTa sequence classifier", family.Message);
        Assert.DoesNotContain('\n', family.Message);
        var (shape, layout) = LocalPipelineTrainer.ResolveModelShape(Job(folder, roberta, "sst2", 3, output));
        Assert.Equal(2, shape.NumLabels);
        Assert.Equal(3, layout.NumLayers);
    }

    [SkippableTheory]
    [InlineData("sst2", 2)]
    [InlineData("stsb", 1)]
    public void AGlueJobOnTwoStagesFollowsTheOneStageRunAndExportsTheHead(string task, int numLabels)
    {
        var bpe = SharedAssets.RequireDirectory("tokenizers/roberta-base");
        using var folder = new TempFolder();
        var model = Path.Combine(folder.Path, "roberta");
        using (var roberta = RobertaModel.CreateRandom(new RobertaConfig(VocabSize: 50265, HiddenSize: 16, NumLayers: 3, NumHeads: 2,
                   IntermediateSize: 32, MaxPositions: 40, NumLabels: numLabels), seed: 3, initStd: 0.1))
            roberta.Save(model);
        foreach (var file in new[] { "vocab.json", "merges.txt" }) File.Copy(Path.Combine(bpe, file), Path.Combine(model, file));
        var rows = Enumerable.Range(0, 10).Select(i => $"sentence number {i} is {(i % 2 == 0 ? "good" : "rather bad")}").ToList();
        var tsv = task == "sst2"
            ? "sentence\tlabel\n" + string.Concat(rows.Select((r, i) => $"{r}\t{i % 2}\n"))
            : "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
              + string.Concat(rows.Select((r, i) => $"{i}\tg\tf\ty\t{i}\ts\ts\t{r}\t{rows[(i + 3) % rows.Count]}\t{i * 0.5:0.0}\n"));
        var train = folder.Write("train.tsv", tsv);

        var one = LocalPipelineTrainer.Run(Job(folder, model, task, 1, Path.Combine(folder.Path, "p1"), train));
        var two = LocalPipelineTrainer.Run(Job(folder, model, task, 2, Path.Combine(folder.Path, "p2"), train));
        Assert.Equal(3, one.Steps.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(6, one.Steps[i].TargetTokens); // one loss term per sequence
            Assert.True(Math.Abs(one.Steps[i].Loss - two.Steps[i].Loss) <= 1e-5 * Math.Abs(one.Steps[i].Loss),
                $"step {i + 1}: P=1 loss {one.Steps[i].Loss:R}, P=2 {two.Steps[i].Loss:R}");
        }
        Assert.NotEqual(one.Steps[0].Loss, one.Steps[^1].Loss);
        Assert.True(File.Exists(Path.Combine(two.AdapterDirectory, RobertaAdapterExport.HeadFileName)));
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(two.AdapterDirectory, "adapter_config.json")));
        Assert.Equal("SEQ_CLS", config.RootElement.GetProperty("task_type").GetString());
        Assert.Equal(numLabels, config.RootElement.GetProperty("sharelora").GetProperty("num_labels").GetInt32());
    }
}
