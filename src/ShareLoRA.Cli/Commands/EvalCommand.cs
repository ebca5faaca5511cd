using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ShareLoRA.Cli.Progress;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Evaluation;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// `sharelora eval mmlu|perplexity|gsm8k`: benchmark a Llama model on MMLU (QLoRA protocol), a data file's perplexity, or
/// GSM8K — in this process, or with --seed on the model split across a running cluster's workers (same output).
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "Evaluate a model: MMLU accuracy (QLoRA protocol), perplexity of a data file, GSM8K exact match.");
        command.Subcommands.Add(Mmlu());
        command.Subcommands.Add(Perplexity());
        command.Subcommands.Add(Gsm8k());
        return command;
    }

    private static Option<bool> JsonOption(string shape) => new("--json") { Description = "Print one JSON object " + shape };

    private static Option<bool> QuietOption() => new("--quiet") { Description = "No progress on stderr: print only the result" };

    private static Command Mmlu()
    {
        var source = new EvalModelArguments();
        var data = new Option<string>("--data") { Description = "MMLU folder holding dev/SUBJECT_dev.csv and test/SUBJECT_test.csv", Required = true };
        var shots = new Option<int>("--shots") { Description = "Solved dev examples per prompt: 5 (QLoRA's 5-shot) or 0", DefaultValueFactory = _ => 5 };
        var subjects = new Option<string?>("--subjects") { Description = "Comma-separated subjects (file stems, e.g. anatomy,astronomy); default all" };
        var limit = new Option<int?>("--limit") { Description = "At most N test questions per subject (the first N)" };
        var batch = new Option<int>("--batch-size") { Description = "Prompts per forward pass (right-padded with a mask; results do not depend on it)", DefaultValueFactory = _ => 4 };
        var json = JsonOption("{\"subjects\": {NAME: {\"accuracy\", \"n\"}}, \"macro_accuracy\", \"micro_accuracy\", ...} instead of the table");
        var predictions = new Option<string?>("--predictions") { Description = "Write one JSON line per question {subject, index, logits [A,B,C,D], predicted, gold} to FILE" };
        var quiet = QuietOption();

        var command = new Command("mmlu",
            "MMLU accuracy by the QLoRA protocol: header + k dev examples + question ending in \"Answer:\", argmax of the A-D token logits " +
            "at the last prompt position. Prompts longer than the model's max positions are cut from the left (BOS kept). " +
            "Prints per-subject accuracy, macro (mean over subjects) and micro (pooled); progress goes to stderr (--quiet: none).")
        {
            data, shots, subjects, limit, batch, json, predictions, quiet,
        };
        foreach (var o in source.All) command.Options.Add(o);
        command.SetAction(parse => EvalModelArguments.Guard(() =>
        {
            int k = parse.GetValue(shots);
            if (k < 0) throw new UserError($"--shots must be >= 0 (got {k})");
            var lim = parse.GetValue(limit);
            if (lim is < 1) throw new UserError($"--limit must be >= 1 (got {lim})");
            int batchSize = parse.GetValue(batch);
            if (batchSize < 1) throw new UserError($"--batch-size must be >= 1 (got {batchSize})");
            var dataDir = parse.GetValue(data)!;
            if (!Directory.Exists(dataDir)) throw new UserError($"--data: directory not found: {dataDir}");
            IReadOnlyList<string>? subjectList = null;
            if (parse.GetValue(subjects) is { } s)
            {
                subjectList = s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                if (subjectList.Count == 0) throw new UserError("--subjects: no subject given");
            }

            using var opened = source.Open(parse);
            var evaluator = new MmluEvaluator(opened.Model, opened.Tokenizer);
            var asJson = parse.GetValue(json);
            var predictionsPath = parse.GetValue(predictions);
            using var predictionWriter = predictionsPath == null ? null : new StreamWriter(predictionsPath);
            using var progress = ProgressSinks.CreateOnStandardError(parse.GetValue(quiet));
            progress.Start(subjectList?.Count ?? MmluData.Subjects(dataDir).Count); // one item per subject, as the evaluator reports
            int truncatedPrompts = 0;
            var report = evaluator.Evaluate(dataDir, new MmluOptions(k, subjectList, lim, batchSize),
                done =>
                {
                    truncatedPrompts += done.TruncatedPrompts;
                    progress.ReportItem(done.Position, FormattableString.Invariant(
                        $"{done.Subject}: accuracy {done.Score.Accuracy:F4} ({done.Score.Correct}/{done.Score.N})") +
                        (done.TruncatedPrompts > 0 ? $", {done.TruncatedPrompts} prompts cut from the left" : ""));
                },
                p => predictionWriter?.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["subject"] = p.Subject,
                    ["index"] = p.Index,
                    ["logits"] = p.Logits,
                    ["predicted"] = MmluQuestion.Letters[p.Predicted],
                    ["gold"] = MmluQuestion.Letters[p.Gold],
                }, ModelArguments.Json)));
            progress.Finish(null); // the result goes to stdout below

            if (asJson)
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["subjects"] = report.Subjects.ToDictionary(kv => kv.Key, kv => new Dictionary<string, object> { ["accuracy"] = kv.Value.Accuracy, ["n"] = kv.Value.N }),
                    ["macro_accuracy"] = report.MacroAccuracy,
                    ["micro_accuracy"] = report.MicroAccuracy,
                    ["questions"] = report.Questions,
                    ["shots"] = k,
                    ["truncated_prompts"] = truncatedPrompts,
                    ["choice_token_ids"] = evaluator.Choices.Ids,
                    ["choice_token_rule"] = evaluator.Choices.Rule,
                }, ModelArguments.Json));
            }
            else
            {
                int width = Math.Max(7, report.Subjects.Keys.Select(n => n.Length).DefaultIfEmpty(0).Max());
                Console.Out.WriteLine($"{"subject".PadRight(width)}  {"n",6}  accuracy");
                foreach (var (name, score) in report.Subjects)
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name.PadRight(width)}  {score.N,6}  {score.Accuracy:F4}"));
                Console.Out.WriteLine(FormattableString.Invariant(
                    $"macro accuracy {report.MacroAccuracy:F4} over {report.Subjects.Count} subjects; micro accuracy {report.MicroAccuracy:F4} over {report.Questions} questions ({k}-shot; choice tokens {string.Join(",", evaluator.Choices.Ids)} by the {evaluator.Choices.Rule} rule") +
                    (truncatedPrompts > 0 ? $"; {truncatedPrompts} prompts cut from the left" : "") + ")");
            }
            return 0;
        }));
        return command;
    }

    private static Command Perplexity()
    {
        var source = new EvalModelArguments();
        var data = new Option<string>("--data") { Description = "Data file: Alpaca JSON/JSONL (instruction, input, output) or JSONL {\"text\": ...}", Required = true };
        var format = new Option<string>("--format") { Description = "text (score BOS + text + EOS whole), alpaca (score output + EOS given the prompt) or auto (from the first record)", DefaultValueFactory = _ => DatasetReader.Auto };
        format.AcceptOnlyFromAmong(DatasetReader.Auto, DatasetReader.Text, DatasetReader.Alpaca);
        var maxLen = new Option<int?>("--max-len") { Description = "Max tokens per sequence (text: first N kept; alpaca: N/2 source + N/2 target); default min(1024, model max positions)" };
        var batch = new Option<int>("--batch-size") { Description = "Sequences per forward pass (right-padded with a mask)", DefaultValueFactory = _ => 4 };
        var json = JsonOption("{\"nll\", \"perplexity\", \"tokens\", \"sequences\", \"truncated\"}");

        var command = new Command("perplexity", "Token-weighted mean negative log-likelihood (natural log) of a data file's target tokens and its perplexity exp(NLL).")
        {
            data, format, maxLen, batch, json,
        };
        foreach (var o in source.All) command.Options.Add(o);
        command.SetAction(parse => EvalModelArguments.Guard(() =>
        {
            int batchSize = parse.GetValue(batch);
            if (batchSize < 1) throw new UserError($"--batch-size must be >= 1 (got {batchSize})");
            var path = parse.GetValue(data)!;
            if (!File.Exists(path)) throw new UserError($"--data: file not found: {path}");
            using var opened = source.Open(parse);
            var tokenizer = opened.Tokenizer;
            int positions = opened.Config.MaxPositionEmbeddings;
            int length = parse.GetValue(maxLen) ?? Math.Min(1024, positions);
            if (length < 2 || length > positions)
                throw new UserError($"--max-len must be in [2, {positions}] (the model's max positions) (got {length})");

            var file = DatasetReader.Read(path, parse.GetValue(format)!);
            if (file.Examples.Count == 0) throw new UserError($"{path}: no records to score");
            var examples = PerplexityEvaluator.Tokenize(tokenizer, file.Examples, length, out int truncated);
            var result = PerplexityEvaluator.Evaluate(opened.Model, examples, batchSize, BatchCollator.PadIdOf(tokenizer), truncated);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["nll"] = result.Nll,
                    ["perplexity"] = result.Perplexity,
                    ["tokens"] = result.Tokens,
                    ["sequences"] = result.Sequences,
                    ["truncated"] = result.Truncated,
                    ["format"] = file.Format,
                }, ModelArguments.Json));
            }
            else
            {
                Console.Out.WriteLine(FormattableString.Invariant(
                    $"{file.Format}: {result.Sequences} sequences, {result.Tokens} target tokens, nll {result.Nll:F6}, perplexity {result.Perplexity:F4}") +
                    (result.Truncated > 0 ? $" ({result.Truncated} sequences truncated to --max-len {length})" : ""));
            }
            return 0;
        }));
        return command;
    }

    private static Command Gsm8k()
    {
        var source = new EvalModelArguments();
        var data = new Option<string>("--data") { Description = "GSM8K JSONL to evaluate (e.g. test.jsonl): {\"question\", \"answer\" ending in \"#### N\"}", Required = true };
        var shots = new Option<int>("--shots") { Description = "Solved examples in the prompt, the first k records of the shots file", DefaultValueFactory = _ => 8 };
        var shotsFile = new Option<string?>("--shots-file") { Description = "GSM8K JSONL to take the shots from; default train.jsonl beside --data" };
        var limit = new Option<int?>("--limit") { Description = "Evaluate only the first N problems" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Generation limit per problem", DefaultValueFactory = _ => 256 };
        var json = JsonOption("{\"accuracy\", \"correct\", \"n\", \"shots\"}");
        var predictions = new Option<string?>("--predictions") { Description = "Write one JSON line per problem {index, completion, predicted, gold, correct, stop} to FILE" };
        var quiet = QuietOption();

        var command = new Command("gsm8k",
            "GSM8K exact match: prompt of k solved examples \"Question: ...\\nAnswer: ...\\n\\n\" + \"Question: ...\\nAnswer:\", greedy generation until " +
            "\"\\n\\nQuestion:\" or EOS; the answer is the number after \"####\" or \"The final answer is\", else the last number (commas, $ and trailing .0 removed).")
        {
            data, shots, shotsFile, limit, maxNew, json, predictions, quiet,
        };
        foreach (var o in source.All) command.Options.Add(o);
        command.SetAction(parse => EvalModelArguments.Guard(() =>
        {
            int k = parse.GetValue(shots);
            if (k < 0) throw new UserError($"--shots must be >= 0 (got {k})");
            var lim = parse.GetValue(limit);
            if (lim is < 1) throw new UserError($"--limit must be >= 1 (got {lim})");
            int n = parse.GetValue(maxNew);
            if (n < 1) throw new UserError($"--max-new-tokens must be >= 1 (got {n})");
            var path = parse.GetValue(data)!;
            if (!File.Exists(path)) throw new UserError($"--data: file not found: {path}");
            IReadOnlyList<Gsm8kProblem> shotProblems = [];
            if (k > 0)
            {
                var shotsPath = parse.GetValue(shotsFile) ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "train.jsonl");
                if (!File.Exists(shotsPath)) throw new UserError($"--shots-file: file not found: {shotsPath} (give --shots-file or --shots 0)");
                var all = Gsm8kData.Read(shotsPath);
                if (all.Count < k) throw new UserError($"{shotsPath}: {k} shots asked but the file holds {all.Count} records");
                shotProblems = all.Take(k).ToArray();
            }
            var problems = Gsm8kData.Read(path);
            if (lim is int l) problems = problems.Take(l).ToArray();

            using var opened = source.Open(parse);
            var predictionsPath = parse.GetValue(predictions);
            using var predictionWriter = predictionsPath == null ? null : new StreamWriter(predictionsPath);
            // A line every 10 problems (and the first and last) in logs; the live bar follows every problem.
            using var progress = ProgressSinks.CreateOnStandardError(parse.GetValue(quiet), everyItems: 10);
            progress.Start(problems.Count);
            int correct = 0;
            var report = new Gsm8kEvaluator(opened.Model, opened.Tokenizer).Evaluate(problems, shotProblems, n, p =>
            {
                if (p.Correct) correct++;
                int done = p.Index + 1;
                progress.ReportItem(done, string.Create(CultureInfo.InvariantCulture, $"correct {correct} ({(double)correct / done:F4})"));
                predictionWriter?.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["index"] = p.Index,
                    ["completion"] = p.Completion,
                    ["predicted"] = p.Predicted,
                    ["gold"] = p.Gold,
                    ["correct"] = p.Correct,
                    ["stop"] = p.StopReason,
                }, ModelArguments.Json));
            });
            progress.Finish(null); // the result goes to stdout below
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["accuracy"] = report.Accuracy,
                    ["correct"] = report.Correct,
                    ["n"] = report.N,
                    ["shots"] = report.Shots,
                }, ModelArguments.Json));
            }
            else
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"gsm8k {report.Shots}-shot: accuracy {report.Accuracy:F4} ({report.Correct}/{report.N})"));
            }
            return 0;
        }));
        return command;
    }
}
