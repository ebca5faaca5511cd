using System.CommandLine;
using System.Globalization;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.Glue;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora glue`: fine-tune RoBERTa on a GLUE task with LoRA/ShareLoRA on query/value (single process), LoRA repo presets.</summary>
public static class GlueCommand
{
    public static Command Create()
    {
        var task = new Option<string>("--task") { HelpName = "TASK", Description = "GLUE task: sst2, mrpc, rte, cola, stsb or qnli.", Required = true };
        var model = new Option<string>("--model") { HelpName = "DIR", Description = "RoBERTa directory (config.json + safetensors; tokenizer.json or vocab.json + merges.txt).", Required = true };
        var data = new Option<string>("--data") { HelpName = "DIR", Description = "Folder with the task's train.tsv and dev.tsv, or a glue_data folder holding the task's folder (e.g. SST-2/).", Required = true };
        var method = new Option<string>("--method") { HelpName = "M", Description = "lora, share-a, share-b or share-ab.", DefaultValueFactory = _ => "lora" };
        var rank = new Option<int?>("--rank") { HelpName = "R", Description = "LoRA rank (preset: 8)." };
        var alpha = new Option<double?>("--alpha") { HelpName = "A", Description = "LoRA alpha (preset: 8)." };
        var lr = new Option<double?>("--lr") { HelpName = "LR", Description = "Peak learning rate (preset per task, e.g. 5e-4 SST-2, 4e-4 MRPC)." };
        var batch = new Option<int?>("--batch-size") { HelpName = "N", Description = "Training batch size (preset: 16)." };
        var maxLen = new Option<int?>("--max-seq-len") { HelpName = "N", Description = "Maximum tokens per input (preset: 512, capped by the model's positions)." };
        var steps = new Option<int?>("--steps") { HelpName = "N", Description = "Optimizer steps (overrides --epochs)." };
        var epochs = new Option<int?>("--epochs") { HelpName = "E", Description = "Epochs (preset per task, e.g. 60 SST-2, 30 MRPC)." };
        var evalEvery = new Option<int>("--eval-every") { HelpName = "N", Description = "Evaluate on dev every N steps (0: every epoch).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { HelpName = "DIR", Description = "Output folder: metrics.jsonl and adapter/.", DefaultValueFactory = _ => "glue-out" };
        var limit = new Option<int?>("--limit") { HelpName = "N", Description = "Use only the first N train and N dev examples (smoke runs)." };
        var seed = new Option<long>("--seed") { HelpName = "S", Description = "Run seed (adapter init, data order, dropout).", DefaultValueFactory = _ => 0 };
        var command = new Command("glue",
            "Fine-tune RoBERTa on a GLUE task (single process): LoRA/ShareLoRA on query and value, the classifier trained fully; " +
            "dev metrics (accuracy / F1 / Matthews / Pearson) during training, adapter saved as native + PEFT (classifier as modules_to_save).")
        {
            task, model, data, method, rank, alpha, lr, batch, maxLen, steps, epochs, evalEvery, output, limit, seed,
        };
        command.SetAction(parse =>
        {
            var spec = ParseTask(parse.GetValue(task)!);
            var modelDir = parse.GetValue(model)!;
            if (!Directory.Exists(modelDir)) throw new UserError($"--model: directory not found: {modelDir}");
            var (trainPath, devPath) = DataFiles(parse.GetValue(data)!, spec);
            var adapterMethod = AdapterMethods.Parse(parse.GetValue(method), "--method");
            var preset = GlueHyperparameters.RobertaBase(spec.Task);
            var hyper = preset with
            {
                Rank = parse.GetValue(rank) ?? preset.Rank,
                Alpha = parse.GetValue(alpha) ?? preset.Alpha,
                LearningRate = parse.GetValue(lr) ?? preset.LearningRate,
                BatchSize = parse.GetValue(batch) ?? preset.BatchSize,
                MaxSeqLen = parse.GetValue(maxLen) ?? preset.MaxSeqLen,
            };
            if (hyper.Rank < 1 || hyper.BatchSize < 1 || hyper.MaxSeqLen < 4) throw new UserError("--rank and --batch-size must be >= 1, --max-seq-len >= 4");
            int? limitN = parse.GetValue(limit);
            var train = Limit(GlueReader.Read(spec, trainPath), limitN);
            var dev = Limit(GlueReader.Read(spec, devPath), limitN);
            var outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);

            using var tokenizer = HfTokenizer.Load(modelDir);
            using var roberta = RobertaModel.Load(modelDir, new ModelLoadOptions(), parse.GetValue(seed));
            if (roberta.Config.NumLabels != spec.OutputCount)
                throw new UserError($"{Path.Combine(modelDir, "config.json")}: num_labels is {roberta.Config.NumLabels} but {spec.Name} needs {spec.OutputCount} (set id2label / num_labels)");
            var options = new GlueTrainingOptions(spec, adapterMethod, hyper, parse.GetValue(steps), parse.GetValue(epochs), parse.GetValue(evalEvery), Seed: parse.GetValue(seed));
            using var trainer = new GlueTrainer(roberta, tokenizer, options);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"glue {spec.Name}: {adapterMethod.Name()} r={hyper.Rank} alpha={hyper.Alpha} lr={hyper.LearningRate} batch={hyper.BatchSize} steps={trainer.TotalSteps(train.Count)} train={train.Count} dev={dev.Count}"));
            GlueTrainingResult result;
            using (var metrics = new MetricsWriter(Path.Combine(outDir, MetricsWriter.FileName), append: true))
                result = trainer.Train(train, dev, metrics, line => Console.Out.WriteLine(line));
            var adapterDir = Path.Combine(outDir, "adapter");
            trainer.Save(adapterDir, Path.GetFullPath(modelDir));
            if (result.Final is { } final)
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"final dev {string.Join(" ", final.Score.Metrics.Select(kv => $"{kv.Key}={kv.Value:F4}"))} (reported: {final.Score.Reported})"));
            Console.Out.WriteLine($"adapter: {adapterDir}");
            return 0;
        });
        return command;
    }

    private static GlueTaskSpec ParseTask(string name)
    {
        var normalized = name.Trim().ToLowerInvariant().Replace("-", "");
        var spec = GlueTasks.All.FirstOrDefault(s => s.Name.ToLowerInvariant().Replace("-", "") == normalized);
        return spec ?? throw new UserError($"--task must be one of sst2, mrpc, rte, cola, stsb, qnli (got '{name}')");
    }

    private static (string Train, string Dev) DataFiles(string dir, GlueTaskSpec spec)
    {
        if (!Directory.Exists(dir)) throw new UserError($"--data: directory not found: {dir}");
        foreach (var candidate in new[] { dir, Path.Combine(dir, spec.Name) })
        {
            var train = Path.Combine(candidate, "train.tsv");
            var dev = Path.Combine(candidate, "dev.tsv");
            if (File.Exists(train) && File.Exists(dev)) return (train, dev);
        }
        throw new UserError($"--data: {dir} has no train.tsv + dev.tsv (nor {spec.Name}/train.tsv + dev.tsv)");
    }

    private static IReadOnlyList<GlueExample> Limit(IReadOnlyList<GlueExample> examples, int? limit) =>
        limit is { } n ? (n < 1 ? throw new UserError($"--limit must be >= 1 (got {n})") : examples.Take(n).ToList()) : examples;
}
