using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Tests.Pipeline;

namespace ShareLoRA.Training.Tests.Trainer;

/// <summary>Jobs over a tiny random model saved to a temp folder, with synthetic token data (no tokenizer needed).</summary>
internal static class TrainerJobs
{
    public static string SaveModel(TempFolder folder, ShareLoRA.Model.Config.LlamaConfig config, string name = "model")
    {
        var dir = Path.Combine(folder.Path, name);
        using var model = LlamaModel.CreateRandom(config, TinyLlama.ModelSeed);
        model.Save(dir);
        return dir;
    }

    public static JobConfig Job(TempFolder folder, string modelDir, string method, int stages, string output, params string[] overrides)
    {
        var path = folder.Write("job.json", $$"""
            {
              "name": "tiny",
              "model": "{{modelDir}}",
              "data": { "train": "unused.jsonl" },
              "adapter": { "method": "{{method}}", "rank": 4, "alpha": 8, "dropout": 0.1 },
              "optim": { "lr": 1e-2, "max_grad_norm": 0.5, "weight_decay": 0.01 },
              "batch": { "micro_batch_size": 3, "micro_batches": 3 },
              "steps": 4,
              "seed": 5,
              "output": "{{output}}",
              "pipeline": { "stages": {{stages}} }
            }
            """);
        return JobConfig.Load(path, overrides);
    }

    public static TrainingData Data(int vocab, int train = 40, int eval = 8, int minLength = 6, int maxLength = 14)
    {
        var examples = TinyLlama.Examples(train, vocab, 1, minLength, maxLength);
        var evalExamples = TinyLlama.Examples(eval, vocab, 2, minLength, maxLength);
        var report = new DataReport("alpaca", examples.Length, evalExamples.Length, 0, 0, [], 0, 0,
            examples.Sum(e => (long)e.Length), examples.Sum(e => (long)e.TargetTokens));
        return new TrainingData(examples, evalExamples, report);
    }
}
