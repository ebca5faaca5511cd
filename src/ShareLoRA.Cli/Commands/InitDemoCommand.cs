using System.CommandLine;
using ShareLoRA.Training.Demo;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// `sharelora init-demo`: writes a self-contained demo (tiny random Llama with its own tokenizer, synthetic instruction
/// data, a ready job file), so a fresh clone can train without any downloaded model or dataset.
/// </summary>
public static class InitDemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out")
        {
            HelpName = "DIR",
            Description = "Folder to write model/, data/train.jsonl, data/eval.jsonl and demo-job.json into.",
            Required = true,
        };
        var seed = new Option<long>("--seed")
        {
            Description = "Seed of the data, tokenizer merges and model weights; the same seed gives byte-identical files.",
            DefaultValueFactory = _ => DemoAssetsOptions.DefaultSeed,
        };
        var examples = new Option<int>("--examples")
        {
            Description = "Training records to generate (eval.jsonl gets a tenth of that, at least 20).",
            DefaultValueFactory = _ => DemoAssetsOptions.DefaultTrainExamples,
        };
        var force = new Option<bool>("--force") { Description = "Overwrite demo assets already in the folder (model/, data/, demo-job.json)." };

        var command = new Command("init-demo",
            "Generate a tiny demo model (random Llama, hidden 64, 4 layers, byte-fallback BPE tokenizer), synthetic Alpaca data " +
            "(reverse, add, sort, repeat, ...) and demo-job.json (ShareLoRA share-a, 2 pipeline stages).")
        {
            output, seed, examples, force,
        };
        command.SetAction(parse =>
        {
            var count = parse.GetValue(examples);
            if (count <= 0) throw new UserError($"--examples: must be > 0 (got {count})");
            var seedValue = parse.GetValue(seed);
            if (seedValue < 0) throw new UserError($"--seed: must be >= 0 (got {seedValue})");
            DemoAssetPaths paths;
            try
            {
                paths = DemoAssets.Write(new DemoAssetsOptions(parse.GetValue(output)!, seedValue, count,
                    EvalExamples: Math.Max(20, count / 10), Force: parse.GetValue(force)));
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                throw new UserError(e.Message); // e.g. assets already there without --force: one line, exit 2
            }
            Console.Out.WriteLine($"model: {paths.ModelDirectory} (vocab {paths.VocabSize})");
            Console.Out.WriteLine($"data:  {paths.TrainFile}");
            Console.Out.WriteLine($"       {paths.EvalFile}");
            Console.Out.WriteLine($"job:   {paths.JobFile}");
            Console.Out.WriteLine($"train: sharelora train --job {paths.JobFile}");
            return 0;
        });
        return command;
    }
}
