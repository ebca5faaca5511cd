using System.CommandLine;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora merge`: folds an adapter into its base model and writes a plain Hugging Face checkpoint.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Base Hugging Face model directory the adapter was trained on", Required = true };
        var adapter = new Option<string>("--adapter")
        {
            Description = "Adapter directory (OUTPUT/adapter or OUTPUT): native adapter.safetensors preferred, else PEFT files",
            Required = true,
        };
        var output = new Option<string>("--out")
        {
            Description = "Output directory for config.json, model.safetensors (W = W0 + s B A per adapted module) and the copied tokenizer files",
            Required = true,
        };
        var force = new Option<bool>("--force") { Description = "Write into --out even when it is not empty (files of the same names are replaced)" };

        var command = new Command("merge", "Merge an adapter into its base model: a Hugging Face checkpoint that needs no adapter at inference.")
        {
            model, adapter, output, force,
        };
        command.SetAction(parse =>
        {
            var modelDir = parse.GetValue(model)!;
            var adapterDir = parse.GetValue(adapter)!;
            var outDir = parse.GetValue(output)!;
            if (!Directory.Exists(modelDir)) throw new UserError($"--model: directory not found: {modelDir}");
            if (!Directory.Exists(adapterDir)) throw new UserError($"--adapter: directory not found: {adapterDir}");
            if (SamePath(modelDir, outDir)) throw new UserError($"--out: {outDir} is the base model directory; choose another directory");
            ModelArguments.CheckOutput(outDir, parse.GetValue(force));

            var config = LlamaConfig.Load(Path.Combine(modelDir, "config.json"));
            var source = AdapterDirectory.SourceFile(adapterDir);
            using var bank = AdapterDirectory.Load(adapterDir, config);
            MergedCheckpoint.Write(modelDir, bank, outDir, source);
            Console.Out.WriteLine($"merged {bank.Layout.MethodName} adapter {source} (r = {bank.Layout.Rank}, alpha = {bank.Layout.Alpha}, "
                + $"{string.Join(",", bank.Layout.OrderedTargets.Select(m => m.ShortName()))} in {config.NumHiddenLayers} layers) into {Path.Combine(outDir, "model.safetensors")}");
            return 0;
        });
        return command;
    }

    internal static bool SamePath(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(a)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(b)), StringComparison.Ordinal);
}
