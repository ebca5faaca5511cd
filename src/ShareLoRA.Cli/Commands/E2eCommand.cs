using System.CommandLine;
using System.Globalization;
using System.Text;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.E2e;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora e2e train|generate`: GPT-2 on E2E NLG with LoRA/ShareLoRA on q/v (single process), LoRA repo presets and beam search.</summary>
public static class E2eCommand
{
    public static Command Create()
    {
        var command = new Command("e2e", "GPT-2 on E2E NLG as the LoRA repo's examples/NLG: train an adapter, generate with beam search (score with `sharelora e2e-metrics`).");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Generate());
        return command;
    }

    private static Option<string> ModelOption() => new("--model") { HelpName = "DIR", Description = "GPT-2 directory (config.json + safetensors; tokenizer.json or vocab.json + merges.txt).", Required = true };

    private static Command Train()
    {
        var model = ModelOption();
        var train = new Option<string>("--train") { HelpName = "FILE", Description = "Training data: official E2E CSV (mr,ref) or LoRA's processed 'context||completion' text.", Required = true };
        var valid = new Option<string?>("--valid") { HelpName = "FILE", Description = "Validation data (same formats); its loss is logged." };
        var method = new Option<string>("--method") { HelpName = "M", Description = "lora, share-a, share-b or share-ab.", DefaultValueFactory = _ => "lora" };
        var rank = new Option<int?>("--rank") { HelpName = "R", Description = "LoRA rank (preset: 4)." };
        var alpha = new Option<double?>("--alpha") { HelpName = "A", Description = "LoRA alpha (preset: 32)." };
        var lr = new Option<double?>("--lr") { HelpName = "LR", Description = "Peak learning rate (preset: 2e-4)." };
        var warmup = new Option<int?>("--warmup-steps") { HelpName = "N", Description = "Linear warm-up steps (preset: 500)." };
        var batch = new Option<int?>("--batch-size") { HelpName = "N", Description = "Batch size (preset: 8)." };
        var steps = new Option<int?>("--steps") { HelpName = "N", Description = "Optimizer steps (overrides --epochs)." };
        var epochs = new Option<int?>("--epochs") { HelpName = "E", Description = "Epochs (preset: 5)." };
        var evalEvery = new Option<int>("--eval-every") { HelpName = "N", Description = "Validation loss every N steps (0: every epoch).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { HelpName = "DIR", Description = "Output folder: metrics.jsonl and adapter/.", DefaultValueFactory = _ => "e2e-out" };
        var limit = new Option<int?>("--limit") { HelpName = "N", Description = "Use only the first N training pairs and N validation pairs." };
        var seed = new Option<long>("--seed") { HelpName = "S", Description = "Run seed.", DefaultValueFactory = _ => 0 };
        var command = new Command("train", "Fine-tune GPT-2 on E2E pairs: context = linearised MR, completion = reference; label smoothing 0.1 on completion tokens.")
        {
            model, train, valid, method, rank, alpha, lr, warmup, batch, steps, epochs, evalEvery, output, limit, seed,
        };
        command.SetAction(parse =>
        {
            var modelDir = RequireDir(parse.GetValue(model)!, "--model");
            var pairs = Limit(ReadPairs(parse.GetValue(train)!, "--train"), parse.GetValue(limit));
            var validPath = parse.GetValue(valid);
            var validPairs = validPath is null ? [] : Limit(ReadPairs(validPath, "--valid"), parse.GetValue(limit));
            var p = E2eHyperparameters.LoraRepo;
            var hyper = p with
            {
                Rank = parse.GetValue(rank) ?? p.Rank,
                Alpha = parse.GetValue(alpha) ?? p.Alpha,
                LearningRate = parse.GetValue(lr) ?? p.LearningRate,
                WarmupSteps = parse.GetValue(warmup) ?? p.WarmupSteps,
                BatchSize = parse.GetValue(batch) ?? p.BatchSize,
            };
            if (hyper.Rank < 1 || hyper.BatchSize < 1) throw new UserError("--rank and --batch-size must be >= 1");
            var adapterMethod = AdapterMethods.Parse(parse.GetValue(method), "--method");
            var outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            using var tokenizer = HfTokenizer.Load(modelDir);
            using var gpt2 = Gpt2Model.Load(modelDir, new ModelLoadOptions());
            using var trainer = new E2eTrainer(gpt2, tokenizer, new E2eTrainingOptions(adapterMethod, hyper, parse.GetValue(steps), parse.GetValue(epochs), parse.GetValue(evalEvery), parse.GetValue(seed)));
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"e2e train: {adapterMethod.Name()} r={hyper.Rank} alpha={hyper.Alpha} lr={hyper.LearningRate} batch={hyper.BatchSize} steps={trainer.TotalSteps(pairs.Count)} pairs={pairs.Count} valid={validPairs.Count}"));
            E2eTrainingResult result;
            using (var metrics = new MetricsWriter(Path.Combine(outDir, MetricsWriter.FileName), append: true))
                result = trainer.Train(pairs, validPairs, metrics, line => Console.Out.WriteLine(line));
            var adapterDir = Path.Combine(outDir, "adapter");
            trainer.Save(adapterDir, modelDir);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"steps {result.Steps}, last loss {result.Losses[^1]:F4}"));
            Console.Out.WriteLine($"adapter: {adapterDir}");
            return 0;
        });
        return command;
    }

    private static Command Generate()
    {
        var model = ModelOption();
        var adapter = new Option<string?>("--adapter") { HelpName = "DIR", Description = "Adapter folder (adapter.safetensors, or a run folder holding adapter/); omit for the base model." };
        var data = new Option<string>("--data") { HelpName = "FILE", Description = "Instances to generate for: official E2E CSV (one output per distinct MR) or LoRA's processed text.", Required = true };
        var output = new Option<string>("--out") { HelpName = "FILE", Description = "Output file, one line per instance (for e2e-metrics --hyp).", Required = true };
        var beams = new Option<int>("--beams") { HelpName = "N", Description = "Beam size (repo: 10).", DefaultValueFactory = _ => 10 };
        var lengthPenalty = new Option<double>("--length-penalty") { HelpName = "LP", Description = "Finished score = sum log p / length^LP (repo: 0.8).", DefaultValueFactory = _ => 0.8 };
        var noRepeat = new Option<int>("--no-repeat-ngram-size") { HelpName = "N", Description = "Never repeat an n-gram of the output (repo: 4; 0 = off).", DefaultValueFactory = _ => 4 };
        var maxNew = new Option<int>("--max-new-tokens") { HelpName = "N", Description = "Generated tokens at most (repo eval_len: 64).", DefaultValueFactory = _ => 64 };
        var limit = new Option<int?>("--limit") { HelpName = "N", Description = "Generate for the first N instances only." };
        var command = new Command("generate", "Beam-search outputs for E2E instances as the LoRA repo's gpt2_beam.py (stops at <|endoftext|> and, as the repo's README passes, token 628).")
        {
            model, adapter, data, output, beams, lengthPenalty, noRepeat, maxNew, limit,
        };
        command.SetAction(parse =>
        {
            var modelDir = RequireDir(parse.GetValue(model)!, "--model");
            var dataPath = parse.GetValue(data)!;
            if (!File.Exists(dataPath)) throw new UserError($"--data: file not found: {dataPath}");
            var instances = ReadInstances(dataPath);
            if (parse.GetValue(limit) is { } n) instances = instances.Take(Math.Max(1, n)).ToList();
            using var tokenizer = HfTokenizer.Load(modelDir);
            using var gpt2 = Gpt2Model.Load(modelDir, new ModelLoadOptions());
            var adapterDir = parse.GetValue(adapter);
            using var bank = adapterDir is null ? null : AdapterDirectory.Load(adapterDir);
            if (bank is not null && bank.Layout.NumLayers != gpt2.Config.NumLayers)
                throw new UserError($"{adapterDir}: adapter has {bank.Layout.NumLayers} layers but the model has {gpt2.Config.NumLayers}");
            int eos = tokenizer.EosId ?? gpt2.Config.EosTokenId ?? 50256;
            var stops = gpt2.Config.VocabSize > 628 && eos == 50256 ? new[] { eos, 628 } : new[] { eos };
            var options = new BeamSearchOptions(parse.GetValue(beams), parse.GetValue(lengthPenalty), parse.GetValue(noRepeat), parse.GetValue(maxNew), StopTokens: stops);
            options.Validate();
            var outputs = E2eGenerator.Generate(gpt2, bank, tokenizer, instances, options,
                (i, text) => { if (i % 50 == 0 || i == instances.Count) Console.Error.WriteLine($"{i}/{instances.Count}"); });
            var outPath = parse.GetValue(output)!;
            var dir = Path.GetDirectoryName(Path.GetFullPath(outPath));
            if (dir is not null) Directory.CreateDirectory(dir);
            File.WriteAllText(outPath, string.Concat(outputs.Select(o => o.Replace('\n', ' ') + "\n")), new UTF8Encoding(false));
            Console.Out.WriteLine($"wrote {outputs.Count} outputs to {outPath}");
            return 0;
        });
        return command;
    }

    private static string RequireDir(string dir, string option) =>
        Directory.Exists(dir) ? dir : throw new UserError($"{option}: directory not found: {dir}");

    private static IReadOnlyList<E2eInstance> ReadInstances(string path) => E2eReader.ReadInstances(path);

    private static IReadOnlyList<E2eTrainingPair> ReadPairs(string path, string option) =>
        File.Exists(path) ? E2eReader.ReadTrainingPairs(path) : throw new UserError($"{option}: file not found: {path}");

    private static IReadOnlyList<E2eTrainingPair> Limit(IReadOnlyList<E2eTrainingPair> pairs, int? limit) =>
        limit is { } n ? (n < 1 ? throw new UserError($"--limit must be >= 1 (got {n})") : pairs.Take(n).ToList()) : pairs;
}
