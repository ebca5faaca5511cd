using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ShareLoRA.Model.Generation;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora score`: log-probability of each token of a text under a Llama model, with NLL and perplexity.</summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json)", Required = true };
        var text = new Option<string?>("--text") { Description = "Text to score; tokenized with the model's tokenizer, BOS added as its post-processor says" };
        var tokenIds = new Option<string?>("--token-ids") { Description = "Token ids to score, comma-separated (at least 2)" };
        var adapter = ModelArguments.AdapterOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object {\"token_ids\", \"logprobs\", \"nll\", \"perplexity\"}" };

        var command = new Command("score", "Score a text: logprobs[i] = log p(token[i+1] | tokens[..i]), mean negative log-likelihood and perplexity.")
        {
            model, adapter, text, tokenIds, json,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(model)!;
            var t = parse.GetValue(text);
            var idsText = parse.GetValue(tokenIds);
            if ((t == null) == (idsText == null)) throw new UserError("give exactly one of --text or --token-ids");

            using var llama = ModelArguments.LoadModel(dir);
            using var bank = ModelArguments.LoadAdapter(parse.GetValue(adapter), llama);
            IReadOnlyList<int> ids;
            if (t != null)
            {
                using var tokenizer = ModelArguments.TryLoadTokenizer(dir)
                    ?? throw new UserError($"--text needs {Path.Combine(dir, "tokenizer.json")}, which is missing; use --token-ids");
                ids = tokenizer.Encode(t);
            }
            else
            {
                ids = ModelArguments.ParseIds(idsText!, "--token-ids");
            }
            var option = t != null ? "--text" : "--token-ids";
            if (ids.Count < 2) throw new UserError($"{option}: scoring needs at least 2 tokens (got {ids.Count})");
            ModelArguments.CheckVocabulary(ids, llama, option);

            var result = Scorer.Score(llama, ids, bank);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["token_ids"] = result.TokenIds,
                    ["logprobs"] = result.LogProbs,
                    ["nll"] = result.Nll,
                    ["perplexity"] = result.Perplexity,
                }, ModelArguments.Json));
            }
            else
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"tokens {result.TokenIds.Count}  nll {result.Nll:F6}  perplexity {result.Perplexity:F4}"));
            }
            return 0;
        });
        return command;
    }
}
