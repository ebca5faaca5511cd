using System.CommandLine;
using System.Text.Json;
using ShareLoRA.Model.Adapters;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora export`: re-exports a trained adapter as a Hugging Face PEFT LoRA adapter directory.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var adapter = new Option<string>("--adapter")
        {
            Description = "Adapter directory (OUTPUT/adapter or OUTPUT): native adapter.safetensors preferred, else PEFT files",
            Required = true,
        };
        var format = new Option<string>("--format") { Description = "Output format; peft = adapter_config.json + adapter_model.safetensors", Required = true };
        format.AcceptOnlyFromAmong("peft");
        var output = new Option<string>("--out") { Description = "Output directory", Required = true };
        var plain = new Option<bool>("--plain-peft")
        {
            Description = "Leave the \"sharelora\" section out of adapter_config.json, for PEFT releases that reject unknown config keys "
                + "(the shared matrices are still repeated per layer, so it loads as plain LoRA either way)",
        };
        var baseModel = new Option<string?>("--base-model")
        {
            Description = "base_model_name_or_path to record; defaults to the one in the adapter's own adapter_config.json, else empty",
        };
        var force = new Option<bool>("--force") { Description = "Write into --out even when it is not empty (files of the same names are replaced)" };

        var command = new Command("export", "Export a trained adapter for other tools (stock PEFT, vLLM): shared matrices repeated under every layer's key.")
        {
            adapter, format, output, plain, baseModel, force,
        };
        command.SetAction(parse =>
        {
            var adapterDir = parse.GetValue(adapter)!;
            var outDir = parse.GetValue(output)!;
            if (!Directory.Exists(adapterDir)) throw new UserError($"--adapter: directory not found: {adapterDir}");
            var source = AdapterDirectory.SourceFile(adapterDir);
            if (MergeCommand.SamePath(Path.GetDirectoryName(source)!, outDir))
                throw new UserError($"--out: {outDir} is the adapter's own directory; choose another directory");
            ModelArguments.CheckOutput(outDir, parse.GetValue(force));

            var baseName = parse.GetValue(baseModel) ?? RecordedBaseModel(Path.GetDirectoryName(source)!) ?? "";
            using var bank = AdapterDirectory.Load(adapterDir);
            bool withSection = !parse.GetValue(plain);
            PeftAdapterFormat.Export(bank, outDir, baseName, includeShareLoraSection: withSection);
            Console.Out.WriteLine($"exported {bank.Layout.MethodName} adapter {source} as PEFT LoRA ({bank.Layout.NumLayers} layers, r = {bank.Layout.Rank}"
                + (withSection ? ", with the sharelora section" : ", plain PEFT config") + $") to {outDir}");
            return 0;
        });
        return command;
    }

    /// <summary>base_model_name_or_path from the adapter directory's own PEFT config, when it has one.</summary>
    private static string? RecordedBaseModel(string adapterDir)
    {
        var config = Path.Combine(adapterDir, PeftAdapterFormat.ConfigFileName);
        if (!File.Exists(config)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(config));
            return doc.RootElement.TryGetProperty("base_model_name_or_path", out var name) && name.ValueKind == JsonValueKind.String ? name.GetString() : null;
        }
        catch (JsonException)
        {
            return null;   // the load below reports a broken config with its own message
        }
    }
}
