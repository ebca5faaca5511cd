using System.Diagnostics;
using ShareLoRA.Model.Config;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Demo;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Trainer;
using Xunit.Abstractions;

using Xunit;

namespace ShareLoRA.Training.Tests.Demo;

public sealed class DemoAssetsTests(DemoAssetsFixture assets, ITestOutputHelper output) : IClassFixture<DemoAssetsFixture>
{
    [Fact]
    public void Same_seed_gives_byte_identical_files_and_another_seed_differs()
    {
        using var folder = new TempFolder();
        DemoAssetsOptions Options(string name, long seed) => new(Path.Combine(folder.Path, name), seed, TrainExamples: 300, EvalExamples: 30, Merges: 64);
        var a = DemoAssets.Write(Options("a", 3));
        DemoAssets.Write(Options("b", 3));
        DemoAssets.Write(Options("c", 4));

        var files = Directory.GetFiles(Path.Combine(folder.Path, "a"), "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Path.Combine(folder.Path, "a"), f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(
            ["data/eval.jsonl", "data/train.jsonl", "demo-job.json", "model/config.json", "model/model.safetensors",
             "model/special_tokens_map.json", "model/tokenizer.json", "model/tokenizer_config.json"],
            files.Select(f => f.Replace('\\', '/')));
        foreach (var file in files)
            Assert.True(File.ReadAllBytes(Path.Combine(folder.Path, "a", file)).AsSpan()
                .SequenceEqual(File.ReadAllBytes(Path.Combine(folder.Path, "b", file))), $"{file} differs between two runs with seed 3");

        Assert.NotEqual(File.ReadAllBytes(a.TrainFile), File.ReadAllBytes(Path.Combine(folder.Path, "c", "data", "train.jsonl")));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a.ModelDirectory, "model.safetensors")),
            File.ReadAllBytes(Path.Combine(folder.Path, "c", "model", "model.safetensors")));
    }

    [Fact]
    public void Refuses_to_overwrite_without_force()
    {
        using var folder = new TempFolder();
        var options = new DemoAssetsOptions(folder.Path, TrainExamples: 50, EvalExamples: 10, Merges: 0);
        DemoAssets.Write(options);
        var e = Assert.Throws<IOException>(() => DemoAssets.Write(options));
        Assert.Contains("--force", e.Message);
        DemoAssets.Write(options with { Force = true });
    }

    [Fact]
    public void Writes_the_tiny_tied_llama_config_and_alpaca_records()
    {
        var config = LlamaConfig.Load(Path.Combine(assets.Paths.ModelDirectory, "config.json"));
        Assert.Equal((64, 4, 4, 2, 172, true), (config.HiddenSize, config.NumHiddenLayers, config.NumAttentionHeads,
            config.NumKeyValueHeads, config.IntermediateSize, config.TieWordEmbeddings));
        Assert.Equal(assets.Paths.VocabSize, config.VocabSize);

        var lines = File.ReadAllLines(assets.Paths.TrainFile);
        Assert.Equal(DemoAssetsOptions.DefaultTrainExamples, lines.Length);
        Assert.Equal(DemoAssetsOptions.DefaultEvalExamples, File.ReadAllLines(assets.Paths.EvalFile).Length);
        Assert.All(lines, l => Assert.Matches("^\\{\"instruction\":\"[^\"]+\",\"input\":\"[^\"]*\",\"output\":\"[^\"]+\"\\}$", l));
        Assert.Equal(DemoTaskGenerator.Instructions.Order(), lines.Select(l => l.Split('"')[3]).Distinct().Order());
    }

    [Fact]
    public void Generated_tasks_have_the_right_answers()
    {
        var examples = new DemoTaskGenerator(11).Next(200);
        foreach (var e in examples)
        {
            switch (Array.IndexOf(DemoTaskGenerator.Instructions.ToArray(), e.Instruction))
            {
                case 0: Assert.Equal(new string(e.Input.Reverse().ToArray()), e.Output); break;
                case 1:
                    var parts = e.Input.Split(" + ");
                    Assert.Equal((int.Parse(parts[0]) + int.Parse(parts[1])).ToString(), e.Output);
                    break;
                case 2: Assert.Equal(new string(e.Input.Order().ToArray()), e.Output); break;
                case 3: Assert.Equal($"{e.Input} {e.Input} {e.Input}", e.Output); break;
                case 4: Assert.Equal(e.Input.ToUpperInvariant(), e.Output); break;
                case 5: Assert.Equal(((char)(e.Input[0] + 1)).ToString(), e.Output); break;
                default: Assert.Fail($"unknown instruction '{e.Instruction}'"); break;
            }
        }
    }

    [Fact]
    public void Generated_job_loads_as_share_a_rank_8_with_two_stages()
    {
        var job = JobConfig.Load(assets.Paths.JobFile);
        Assert.Equal(("share-a", 8, 2), (job.Adapter.Method, job.Adapter.Rank, job.Pipeline.Stages));
        Assert.Equal(Path.GetFullPath(assets.Paths.ModelDirectory), job.Model);
        Assert.Equal(assets.Paths.TrainFile, job.Data.Train);
        Assert.Equal(assets.Paths.EvalFile, job.Data.Eval);
        Assert.Equal((50, 50, 3), (job.Data.EvalEvery, job.Checkpoint.Every, job.Checkpoint.Keep));
        Assert.Equal(Path.Combine(Path.GetDirectoryName(assets.Paths.JobFile)!, "run"), job.Output);
        Assert.Equal(7, job.Seed);
    }

    [Fact]
    public void Twenty_training_steps_on_the_demo_lower_the_training_loss()
    {
        var job = JobConfig.Load(assets.Paths.JobFile,
            ["steps=20", "pipeline.stages=1", $"output={Path.Combine(assets.Root, "run20")}"]);
        var clock = Stopwatch.StartNew();
        var result = LocalPipelineTrainer.Run(job);
        output.WriteLine($"20 demo steps single-process: {clock.Elapsed.TotalSeconds:0.0} s");

        Assert.Equal(20, result.Steps.Count);
        var first = result.Steps.Take(5).Average(s => s.Loss);
        var last = result.Steps.TakeLast(5).Average(s => s.Loss);
        output.WriteLine($"mean loss of steps 1-5 {first:0.0000}, of steps 16-20 {last:0.0000}");
        Assert.True(last < first, $"training loss should fall: first five steps {first:0.0000}, last five {last:0.0000}");
    }
}
