using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.CommandLine;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using static TorchSharp.torch;

namespace ShareLoRA.Cli.Commands;

/// <summary>Argument parsing and model/tokenizer loading shared by the commands that run a model (generate, score).</summary>
internal static class ModelArguments
{
    public static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Parses "1,2,3" (spaces allowed) into token ids, naming the option and the bad item on error.</summary>
    public static IReadOnlyList<int> ParseIds(string text, string optionName)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var ids = new List<int>();
        foreach (var p in parts)
        {
            if (p.Length == 0 && parts.Length == 1) break;
            if (!int.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) || id < 0)
                throw new UserError($"{optionName}: expected comma-separated non-negative integers, found \"{p}\"");
            ids.Add(id);
        }
        if (ids.Count == 0) throw new UserError($"{optionName}: no token ids given");
        return ids;
    }

    public static LlamaModel LoadModel(string dir)
    {
        if (!Directory.Exists(dir)) throw new UserError($"--model: directory not found: {dir}");
        return LlamaModel.Load(dir, new ModelLoadOptions());
    }

    /// <summary>The --adapter option of the commands that run a model.</summary>
    public static Option<string?> AdapterOption() => new("--adapter")
    {
        Description = "Adapter directory written by training (OUTPUT/adapter or OUTPUT): native adapter.safetensors preferred, else PEFT "
            + "adapter_config.json + adapter_model.safetensors; applied without dropout",
    };

    /// <summary>The adapter in <paramref name="dir"/>, checked against the model's config, in eval mode; null when no --adapter was given.</summary>
    public static AdapterBank? LoadAdapter(string? dir, LlamaModel model)
    {
        if (dir is null) return null;
        if (!Directory.Exists(dir)) throw new UserError($"--adapter: directory not found: {dir}");
        return AdapterDirectory.Load(dir, model.Config, ScalarType.Float32, model.Device);
    }

    /// <summary>Refuses to write into a non-empty directory unless --force was given.</summary>
    public static void CheckOutput(string dir, bool force)
    {
        if (!force && Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new UserError($"--out: {dir} is not empty; choose an empty directory or pass --force to replace its files");
    }

    /// <summary>The model directory's tokenizer.json, or null when it has none.</summary>
    public static HfTokenizer? TryLoadTokenizer(string dir) =>
        File.Exists(Path.Combine(dir, "tokenizer.json")) ? HfTokenizer.Load(dir) : null;

    public static void CheckVocabulary(IReadOnlyList<int> ids, LlamaModel model, string optionName)
    {
        foreach (var id in ids)
            if (id >= model.Config.VocabSize)
                throw new UserError($"{optionName}: token id {id} is outside the model's vocabulary [0, {model.Config.VocabSize})");
    }
}
