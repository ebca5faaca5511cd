using System.CommandLine;
using System.Text.Json;
using ShareLoRA.Model.Generation;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora generate`: continues a prompt with a Hugging Face Llama model (greedy or sampled).</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model directory (config.json, *.safetensors, tokenizer.json)", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text; tokenized with the model's tokenizer, BOS added as its post-processor says" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids, used as given (e.g. 1,403,407)" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Number of tokens to generate (stops early at an EOS token)", Required = true };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy (first maximum wins); > 0 samples from softmax(logits / T)", Required = true };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling: sample only from the most likely tokens whose probabilities sum to P (0 < P <= 1)" };
        var seed = new Option<long>("--seed") { Description = "Seed of the sampler; the same seed gives the same tokens", DefaultValueFactory = _ => 0 };
        var adapter = ModelArguments.AdapterOption();
        var json = new Option<bool>("--json") { Description = "Print one JSON object {\"prompt_ids\", \"token_ids\" (generated only), \"text\" (the continuation)}" };

        var command = new Command("generate", "Continue a prompt with a Llama-family model and print the text (prompt followed by the continuation).")
        {
            model, adapter, prompt, promptIds, maxNew, temperature, topP, seed, json,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(model)!;
            var text = parse.GetValue(prompt);
            var idsText = parse.GetValue(promptIds);
            if ((text == null) == (idsText == null)) throw new UserError("give exactly one of --prompt or --prompt-ids");
            int n = parse.GetValue(maxNew);
            if (n < 0) throw new UserError($"--max-new-tokens must be >= 0 (got {n})");
            double t = parse.GetValue(temperature);
            if (!(t >= 0) || double.IsInfinity(t)) throw new UserError($"--temperature must be >= 0 (got {t})");
            var p = parse.GetValue(topP);
            if (p is { } pv && !(pv > 0 && pv <= 1)) throw new UserError($"--top-p must be in (0, 1] (got {pv})");

            using var llama = ModelArguments.LoadModel(dir);
            using var bank = ModelArguments.LoadAdapter(parse.GetValue(adapter), llama);
            using var tokenizer = ModelArguments.TryLoadTokenizer(dir);
            IReadOnlyList<int> ids;
            if (text != null)
            {
                if (tokenizer == null) throw new UserError($"--prompt needs {Path.Combine(dir, "tokenizer.json")}, which is missing; use --prompt-ids");
                ids = tokenizer.Encode(text);
                if (ids.Count == 0) throw new UserError("--prompt: the tokenizer gave no tokens (and adds no BOS); use --prompt-ids");
            }
            else
            {
                ids = ModelArguments.ParseIds(idsText!, "--prompt-ids");
            }
            ModelArguments.CheckVocabulary(ids, llama, text != null ? "--prompt" : "--prompt-ids");

            var stop = llama.Config.EosTokenIds.ToList();
            if (tokenizer?.EosId is { } eos && !stop.Contains(eos)) stop.Add(eos);
            var generated = Generator.Generate(llama, ids, new GenerationOptions(n, t, p, parse.GetValue(seed), StopTokenIds: stop), bank);

            string? full = tokenizer?.Decode(ids.Concat(generated).ToArray());
            string? continuation = null;
            if (tokenizer != null)
            {
                // Decoding the continuation alone could drop its leading space (Llama-2 decoders strip one), so cut it
                // from the decoded whole when the prompt's text is a prefix of it.
                var promptText = tokenizer.Decode(ids);
                continuation = full!.StartsWith(promptText, StringComparison.Ordinal) ? full[promptText.Length..] : tokenizer.Decode(generated);
            }

            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object?>
                {
                    ["prompt_ids"] = ids,
                    ["token_ids"] = generated,
                    ["text"] = continuation,
                }, ModelArguments.Json));
            }
            else
            {
                Console.Out.WriteLine(full ?? string.Join(" ", generated));
            }
            return 0;
        });
        return command;
    }
}
