using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ShareLoRA.Model;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Planning;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora params`: trainable adapter parameters of a method beside plain LoRA, for a model directory or a preset.</summary>
public static class ParamsCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model")
        {
            Description = "Hugging Face model directory (reads its config.json; no weights are loaded).",
        };
        var preset = new Option<string?>("--preset")
        {
            Description = "Shape preset instead of a directory: " + string.Join(", ", ModelPresets.Names) + ".",
        };
        var method = new Option<string>("--method")
        {
            Description = "Adapter method: lora, share-a, share-b or share-ab.",
            Required = true,
        };
        var rank = new Option<int>("--rank")
        {
            Description = "Adapter rank r.",
            Required = true,
        };
        var targets = new Option<string?>("--targets")
        {
            Description = "Comma-separated target modules (q, k, v, o, gate, up, down; GPT-2 and RoBERTa have no gate). " +
                "Default: all seven for Llama, q,v for GPT-2 and RoBERTa (the paper's setting).",
        };
        var overrides = new Option<string[]>("--override")
        {
            Description = "Per-module method, MODULE=METHOD, repeatable; e.g. --override o=lora keeps o plain LoRA.",
            AllowMultipleArgumentsPerToken = false,
        };
        var numLabels = new Option<int?>("--num-labels")
        {
            Description = "RoBERTa only: classifier outputs (default: the config's, 2 for presets; 1 = regression).",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object {method, trainable, lora_trainable, reduction}, plus head_trainable for RoBERTa.",
        };

        var command = new Command("params", "Count trainable adapter parameters (shared tensors once) and the reduction against plain LoRA.")
        {
            model, preset, method, rank, targets, overrides, numLabels, json,
        };
        command.SetAction(parse =>
        {
            var (shape, source) = LoadShape(parse.GetValue(model), parse.GetValue(preset));
            if (parse.GetValue(numLabels) is { } labels)
            {
                if (shape.Family != ModelFamily.Roberta)
                    throw new UserError($"--num-labels applies to RoBERTa classifiers only ({source} is {shape.Family.Name()})");
                if (labels <= 0) throw new UserError($"--num-labels must be > 0 (got {labels})");
                shape = shape with { NumLabels = labels };
            }
            var policy = SharingPolicy.Parse(
                parse.GetValue(method)!,
                (parse.GetValue(targets) ?? (shape.Family == ModelFamily.Llama ? "q,k,v,o,gate,up,down" : "q,v"))
                    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                ParseOverrides(parse.GetValue(overrides)));
            var count = ParameterCounter.Count(shape, policy, parse.GetValue(rank));

            if (parse.GetValue(json))
            {
                var fields = new Dictionary<string, object>
                {
                    ["method"] = policy.ToString(),
                    ["trainable"] = count.Trainable,
                    ["lora_trainable"] = count.LoraTrainable,
                    ["reduction"] = count.Reduction,
                };
                if (shape.Family.HasTrainableHead()) fields["head_trainable"] = count.HeadTrainable;
                Console.Out.WriteLine(JsonSerializer.Serialize(fields));
            }
            else
            {
                var inv = CultureInfo.InvariantCulture;
                var family = shape.Family == ModelFamily.Llama ? "" : shape.Family.Name() + ", ";
                Console.Out.WriteLine($"model           {source} ({family}{shape.NumLayers} layers, hidden {shape.HiddenSize}, ffn {shape.IntermediateSize})");
                Console.Out.WriteLine($"method          {policy}");
                Console.Out.WriteLine($"targets         {string.Join(",", policy.Targets.Select(t => t.ShortName()))}");
                Console.Out.WriteLine($"rank            {parse.GetValue(rank)}");
                Console.Out.WriteLine(string.Format(inv, "trainable       {0:N0} ({1:N0} shared + {2} x {3:N0} per layer)",
                    count.Trainable, count.SharedParameters, shape.NumLayers, count.PerLayerParameters));
                Console.Out.WriteLine(string.Format(inv, "lora_trainable  {0:N0}", count.LoraTrainable));
                Console.Out.WriteLine(string.Format(inv, "reduction       {0:P1}", count.Reduction));
                if (shape.Family.HasTrainableHead())
                    Console.Out.WriteLine(string.Format(inv, "head_trainable  {0:N0} (classifier, {1} label{2}; trains fully, not in the counts above)",
                        count.HeadTrainable, shape.NumLabels, shape.NumLabels == 1 ? ", regression" : "s"));
            }
            return 0;
        });
        return command;
    }

    private static (ModelShape Shape, string Source) LoadShape(string? model, string? preset)
    {
        if ((model == null) == (preset == null))
            throw new UserError("params: give exactly one of --model DIR or --preset NAME");
        return model != null ? (ModelShape.FromHfConfigJson(model), model) : (ModelPresets.Get(preset!), preset!);
    }

    private static Dictionary<string, string>? ParseOverrides(string[]? items)
    {
        if (items is not { Length: > 0 }) return null;
        var result = new Dictionary<string, string>();
        foreach (var item in items)
        {
            var parts = item.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0)
                throw new UserError($"--override must be MODULE=METHOD, e.g. o=lora (got '{item}')");
            result[parts[0]] = parts[1];
        }
        return result;
    }
}
