using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.TestSupport;
using ShareLoRA.Training.Evaluation;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Cli.Tests.Commands;

[Collection("Console")]
public class EvalCommandTests(TinyModelDirectory tiny) : IClassFixture<TinyModelDirectory>
{
    private static readonly string[] Letters = ["A", "B", "C", "D"];
    private const string Header = "question,choice0,choice1,choice2,choice3,answer\n";

    // Two subjects with known answers: "alpha" (2 test questions) and "beta_gamma" (3), two dev rows each.
    private string WriteMmlu(string name, int[] alphaAnswers, int[] betaAnswers)
    {
        var dir = Path.Combine(tiny.Root, name);
        tiny.Write($"{name}/dev/alpha_dev.csv", Header + "Which is red?,grass,sky,blood,snow,2\n\"Pick one, please\",a,b,c,d,0\n");
        tiny.Write($"{name}/dev/beta_gamma_dev.csv", Header + "2+2?,3,4,5,6,1\n\"He said \"\"no\"\"\",yes,no,maybe,never,1\n");
        tiny.Write($"{name}/test/alpha_test.csv", Header +
            $"What is 1+1?,1,2,3,4,{alphaAnswers[0]}\n\"A question\nover two lines\",w,x,y,z,{alphaAnswers[1]}\n");
        tiny.Write($"{name}/test/beta_gamma_test.csv", Header +
            $"Cats are?,dogs,birds,mammals,fish,{betaAnswers[0]}\nSky is?,green,blue,red,pink,{betaAnswers[1]}\nBest number?,1,2,3,4,{betaAnswers[2]}\n");
        return dir;
    }

    private static List<JsonElement> ReadLines(string path) =>
        File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    private static int ArgMax(JsonElement logits)
    {
        var values = logits.EnumerateArray().Select(v => v.GetSingle()).ToArray();
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    [SkippableFact]
    public void Mmlu_predictions_are_the_argmax_of_the_reported_logits_and_scores_follow()
    {
        var model = tiny.Require();
        var data = WriteMmlu("mmlu-known", [1, 3], [2, 1, 0]);
        var predictions = Path.Combine(tiny.Root, "pred-known.jsonl");
        var (code, stdout, stderr) = CliRun.Run("eval", "mmlu", "--model", model, "--data", data, "--shots", "2", "--json", "--predictions", predictions, "--batch-size", "2");
        Assert.Equal(0, code);

        var lines = ReadLines(predictions);
        Assert.Equal(5, lines.Count);
        Assert.Equal(["alpha", "alpha", "beta_gamma", "beta_gamma", "beta_gamma"], lines.Select(l => l.GetProperty("subject").GetString()));
        Assert.Equal([0, 1, 0, 1, 2], lines.Select(l => l.GetProperty("index").GetInt32()));
        Assert.Equal(["B", "D", "C", "B", "A"], lines.Select(l => l.GetProperty("gold").GetString()));
        foreach (var l in lines)
        {
            Assert.Equal(4, l.GetProperty("logits").GetArrayLength());
            Assert.Equal(Letters[ArgMax(l.GetProperty("logits"))], l.GetProperty("predicted").GetString());
        }

        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        double macro = 0;
        foreach (var subject in new[] { "alpha", "beta_gamma" })
        {
            var mine = lines.Where(l => l.GetProperty("subject").GetString() == subject).ToList();
            double accuracy = mine.Count(l => l.GetProperty("predicted").GetString() == l.GetProperty("gold").GetString()) / (double)mine.Count;
            var s = root.GetProperty("subjects").GetProperty(subject);
            Assert.Equal(mine.Count, s.GetProperty("n").GetInt32());
            Assert.Equal(accuracy, s.GetProperty("accuracy").GetDouble(), 12);
            macro += accuracy / 2;
        }
        Assert.Equal(macro, root.GetProperty("macro_accuracy").GetDouble(), 12);
        double micro = lines.Count(l => l.GetProperty("predicted").GetString() == l.GetProperty("gold").GetString()) / 5.0;
        Assert.Equal(micro, root.GetProperty("micro_accuracy").GetDouble(), 12);
        Assert.Equal([447, 368, 457, 455], root.GetProperty("choice_token_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(["[1/2] alpha: accuracy", "[2/2] beta_gamma: accuracy"],
            stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l[..l.IndexOf(" accuracy", StringComparison.Ordinal)] + " accuracy"));
    }

    [SkippableFact]
    public void Mmlu_macro_and_micro_differ_on_a_constructed_set()
    {
        var model = tiny.Require();
        // 0-shot prompts do not contain the answers, so rewriting the gold answers leaves the predictions unchanged.
        var first = WriteMmlu("mmlu-probe", [0, 0], [0, 0, 0]);
        var probe = Path.Combine(tiny.Root, "pred-probe.jsonl");
        Assert.Equal(0, CliRun.Run("eval", "mmlu", "--model", model, "--data", first, "--shots", "0", "--json", "--predictions", probe).Code);
        var predicted = ReadLines(probe).Select(l => Array.IndexOf(Letters, l.GetProperty("predicted").GetString())).ToArray();
        int Wrong(int p) => (p + 1) % 4;

        // alpha: 2/2 right; beta_gamma: 1/3 right -> macro (1 + 1/3) / 2 = 2/3, micro 3/5.
        var data = WriteMmlu("mmlu-constructed", [predicted[0], predicted[1]], [predicted[2], Wrong(predicted[3]), Wrong(predicted[4])]);
        var (code, stdout, _) = CliRun.Run("eval", "mmlu", "--model", model, "--data", data, "--shots", "0", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(1.0, root.GetProperty("subjects").GetProperty("alpha").GetProperty("accuracy").GetDouble());
        Assert.Equal(1.0 / 3.0, root.GetProperty("subjects").GetProperty("beta_gamma").GetProperty("accuracy").GetDouble(), 15);
        Assert.Equal(2.0 / 3.0, root.GetProperty("macro_accuracy").GetDouble(), 15);
        Assert.Equal(0.6, root.GetProperty("micro_accuracy").GetDouble(), 15);
        Assert.Equal(5, root.GetProperty("questions").GetInt32());
    }

    [SkippableFact]
    public void Mmlu_text_output_has_a_table_and_the_means()
    {
        var model = tiny.Require();
        var data = WriteMmlu("mmlu-text", [0, 1], [2, 3, 0]);
        var (code, stdout, stderr) = CliRun.Run("eval", "mmlu", "--model", model, "--data", data, "--shots", "1", "--subjects", "beta_gamma", "--limit", "2");
        Assert.Equal(0, code);
        Assert.StartsWith("[1/1] beta_gamma: accuracy ", stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("beta_gamma", lines[1]);
        Assert.Contains("       2  ", lines[1]);
        Assert.StartsWith("macro accuracy ", lines[2]);
        Assert.Contains("over 1 subjects; micro accuracy", lines[2]);
        Assert.Contains("(1-shot; choice tokens 447,368,457,455 by the last-token rule)", lines[2]);
    }

    [SkippableFact]
    public void Mmlu_malformed_csv_is_one_error_line_naming_file_and_line()
    {
        var model = tiny.Require();
        var data = WriteMmlu("mmlu-bad", [0, 1], [2, 3, 0]);
        var bad = tiny.Write("mmlu-bad/test/alpha_test.csv", Header + "Q1,a,b,c,d,0\nQ2,a,\"b\"x,c,d,1\n");
        var (code, stdout, stderr) = CliRun.Run("eval", "mmlu", "--model", model, "--data", data, "--shots", "0");
        Assert.Equal(2, code);
        Assert.Equal($"error: {bad}:3: unexpected character 'x' after a closing quote (expected ',' or end of line)\n", stderr.Replace("\r", ""));

        (code, _, stderr) = CliRun.Run("eval", "mmlu", "--model", model, "--data", data, "--subjects", "nope");
        Assert.Equal(2, code);
        Assert.StartsWith("error: unknown MMLU subject \"nope\"", stderr);
    }

    [SkippableFact]
    public void Perplexity_equals_exp_of_the_mean_nll_computed_directly()
    {
        var model = tiny.Require();
        string[] texts = ["Once upon a time there was a cat.", "Hi.", "The dog ran to the park and played all day."];
        var file = tiny.Write("ppl/texts.jsonl", string.Join("\n", texts.Select(t => JsonSerializer.Serialize(new { text = t }))) + "\n");
        var (code, stdout, stderr) = CliRun.Run("eval", "perplexity", "--model", model, "--data", file, "--format", "text", "--batch-size", "2", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;

        // Directly: BOS + text + EOS per record, one at a time, log_softmax in float64.
        using var llama = LlamaModel.Load(model, new ModelLoadOptions());
        using var tokenizer = HfTokenizer.Load(model);
        double sum = 0;
        long count = 0;
        using (no_grad())
        {
            foreach (var text in texts)
            {
                using var scope = NewDisposeScope();
                var ids = tokenizer.Encode(text).Append(tokenizer.EosId!.Value).ToArray();
                Assert.Equal(1, ids[0]);
                var logProbs = llama.Forward(tensor(ids.Select(i => (long)i).ToArray()).view(1, -1))[0].to(ScalarType.Float64).log_softmax(-1);
                for (int i = 0; i + 1 < ids.Length; i++) { sum -= logProbs[i, ids[i + 1]].item<double>(); count++; }
            }
        }
        Assert.Equal(count, root.GetProperty("tokens").GetInt64());
        Assert.Equal(3, root.GetProperty("sequences").GetInt32());
        Assert.Equal(sum / count, root.GetProperty("nll").GetDouble(), 4);
        Assert.Equal(1.0, root.GetProperty("perplexity").GetDouble() / Math.Exp(sum / count), 4);
    }

    [SkippableFact]
    public void Gsm8k_runs_few_shot_and_scores_against_the_gold_numbers()
    {
        var model = tiny.Require();
        tiny.Write("gsm/train.jsonl",
            "{\"question\": \"Tom has 2 apples and buys 3. How many?\", \"answer\": \"2 + 3 = <<2+3=5>>5\\n#### 5\"}\n" +
            "{\"question\": \"A box holds 1,000 pins. Two boxes?\", \"answer\": \"2 * 1000 = 2000\\n#### 2,000\"}\n");
        var test = tiny.Write("gsm/test.jsonl",
            "{\"question\": \"Sam has 4 pens and loses 1. How many?\", \"answer\": \"4 - 1 = 3\\n#### 3\"}\n" +
            "{\"question\": \"What is 10 times 7?\", \"answer\": \"#### 70\"}\n" +
            "{\"question\": \"Unused\", \"answer\": \"#### 1\"}\n");
        var predictions = Path.Combine(tiny.Root, "gsm/pred.jsonl");
        var (code, stdout, stderr) = CliRun.Run("eval", "gsm8k", "--model", model, "--data", test, "--shots", "2", "--limit", "2",
            "--max-new-tokens", "6", "--json", "--predictions", predictions);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2, doc.RootElement.GetProperty("n").GetInt32());
        Assert.Equal(2, doc.RootElement.GetProperty("shots").GetInt32());
        var lines = ReadLines(predictions);
        Assert.Equal(["3", "70"], lines.Select(l => l.GetProperty("gold").GetString()));
        int correct = lines.Count(l => l.GetProperty("correct").GetBoolean());
        Assert.Equal(correct, doc.RootElement.GetProperty("correct").GetInt32());
        foreach (var l in lines)
            Assert.Contains(l.GetProperty("stop").GetString(), new[] { "length", "eos", "stop-string" });
        Assert.EndsWith("[2/2] correct " + correct + " (" + (correct / 2.0).ToString("F4", System.Globalization.CultureInfo.InvariantCulture) + ")\n", stderr.Replace("\r", ""));

        var (missing, _, err) = CliRun.Run("eval", "gsm8k", "--model", model, "--data", test, "--shots-file", Path.Combine(tiny.Root, "gsm/none.jsonl"));
        Assert.Equal(2, missing);
        Assert.StartsWith("error: --shots-file: file not found", err);
    }

    [SkippableFact]
    public void Adapter_changes_the_logits_exactly_as_the_loaded_bank_does()
    {
        var model = tiny.Require();
        var data = WriteMmlu("mmlu-adapter", [0, 1], [2, 3, 0]);
        var adapterDir = Path.Combine(tiny.Root, "run-adapter", AdapterDirectory.SubdirectoryName);
        using (var llama = LlamaModel.Load(model, new ModelLoadOptions()))
        {
            var layout = AdapterLayout.ForMethod("share-a", llama.Config.NumHiddenLayers, AdapterLayout.LlamaDims(llama.Config), TargetModules.All, 4, 8, 0.1);
            using var bank = AdapterBank.Create(layout, seed: 5);
            using (no_grad())
            {
                // B starts at zero (adapter = base model); random B makes the adapter matter.
                using var g = new TorchSharp.torch.Generator(17, CPU);
                foreach (var p in bank.Parameters.Where(p => p.Matrix == 'B'))
                {
                    using var r = randn(p.Value.shape, p.Value.dtype, CPU, false, g);
                    p.Value.copy_(r.mul_(0.5));
                }
            }
            AdapterDirectory.Save(bank, adapterDir, "tiny");
        }
        string basePred = Path.Combine(tiny.Root, "pred-base.jsonl"), adaptedPred = Path.Combine(tiny.Root, "pred-adapted.jsonl");
        Assert.Equal(0, CliRun.Run("eval", "mmlu", "--model", model, "--data", data, "--shots", "1", "--json", "--predictions", basePred).Code);
        var (code, _, stderr) = CliRun.Run("eval", "mmlu", "--model", model, "--adapter", Path.GetDirectoryName(adapterDir)!, "--data", data, "--shots", "1", "--json", "--predictions", adaptedPred);
        Assert.True(code == 0, stderr);

        float[][] Logits(string path) => ReadLines(path).Select(l => l.GetProperty("logits").EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var (baseLogits, adapted) = (Logits(basePred), Logits(adaptedPred));
        Assert.NotEqual(baseLogits[0], adapted[0]);

        // In-process with the same adapter directory: the same numbers.
        using var llama2 = LlamaModel.Load(model, new ModelLoadOptions());
        using var tokenizer = HfTokenizer.Load(model);
        using var loaded = AdapterDirectory.Load(adapterDir, llama2.Config);
        var expected = new List<float[]>();
        new MmluEvaluator(llama2, tokenizer, loaded).Evaluate(data, new MmluOptions(Shots: 1), onPrediction: p => expected.Add(p.Logits.ToArray()));
        Assert.Equal(expected.Count, adapted.Length);
        for (int i = 0; i < adapted.Length; i++)
            for (int c = 0; c < 4; c++)
                Assert.Equal(expected[i][c], adapted[i][c], 4);

        var (bad, _, err) = CliRun.Run("eval", "perplexity", "--model", model, "--adapter", Path.Combine(tiny.Root, "nowhere"), "--data", basePred);
        Assert.Equal(2, bad);
        Assert.StartsWith("error: --adapter: directory not found", err);
    }

    [SkippableFact]
    public void Stories260K_answers_five_real_mmlu_questions_end_to_end()
    {
        var model = SharedAssets.Stories260K;
        var data = SharedAssets.RequireDirectory("data/mmlu");
        var predictions = Path.Combine(tiny.Root, "pred-stories.jsonl");
        var (code, stdout, stderr) = CliRun.Run("eval", "mmlu", "--model", model, "--data", data, "--subjects", "anatomy", "--limit", "5", "--json", "--predictions", predictions);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(5, root.GetProperty("subjects").GetProperty("anatomy").GetProperty("n").GetInt32());
        var lines = ReadLines(predictions);
        Assert.Equal(5, lines.Count);
        foreach (var l in lines) Assert.Equal(Letters[ArgMax(l.GetProperty("logits"))], l.GetProperty("predicted").GetString());
        double accuracy = lines.Count(l => l.GetProperty("predicted").GetString() == l.GetProperty("gold").GetString()) / 5.0;
        Assert.Equal(accuracy, root.GetProperty("macro_accuracy").GetDouble(), 12);
        // 5-shot anatomy prompts exceed stories260K's 512 positions: they are cut from the left, and said so.
        Assert.Equal(5, root.GetProperty("truncated_prompts").GetInt32());
    }
}
