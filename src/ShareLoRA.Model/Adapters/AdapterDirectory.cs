using ShareLoRA.Model.Config;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// An adapter directory as a training run writes it (OUTPUT/adapter/): the native file adapter.safetensors, which
/// holds every shared matrix once, beside the PEFT pair adapter_config.json + adapter_model.safetensors, which repeats
/// shared matrices under every layer's key for stock PEFT / vLLM.
/// </summary>
public static class AdapterDirectory
{
    /// <summary>Name of the adapter folder inside a run's output directory.</summary>
    public const string SubdirectoryName = "adapter";

    /// <summary>Writes both forms into <paramref name="dir"/> (created if needed). Needs a full-model bank.</summary>
    public static void Save(AdapterBank bank, string dir, string baseModelNameOrPath, bool includeShareLoraSection = true)
    {
        Directory.CreateDirectory(dir);
        NativeAdapterFormat.Save(bank, Path.Combine(dir, NativeAdapterFormat.FileName));
        PeftAdapterFormat.Export(bank, dir, baseModelNameOrPath, includeShareLoraSection);
    }

    /// <summary>
    /// The folder that holds the adapter files: <paramref name="dir"/> itself, or dir/adapter when
    /// <paramref name="dir"/> is a run's output directory.
    /// </summary>
    public static string Resolve(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: adapter directory not found");
        if (HoldsAdapter(dir)) return dir;
        var inner = Path.Combine(dir, SubdirectoryName);
        if (Directory.Exists(inner) && HoldsAdapter(inner)) return inner;
        throw new FileNotFoundException(
            $"{dir}: no adapter found (expected {NativeAdapterFormat.FileName} or {PeftAdapterFormat.ConfigFileName} + {PeftAdapterFormat.WeightsFileName}, here or in {SubdirectoryName}/)");
    }

    private static bool HoldsAdapter(string dir) =>
        File.Exists(Path.Combine(dir, NativeAdapterFormat.FileName)) || File.Exists(Path.Combine(dir, PeftAdapterFormat.ConfigFileName));

    /// <summary>The file <see cref="Load"/> reads tensors from: the native file when present, else the PEFT weights.</summary>
    public static string SourceFile(string dir)
    {
        var resolved = Resolve(dir);
        var native = Path.Combine(resolved, NativeAdapterFormat.FileName);
        return File.Exists(native) ? native : Path.Combine(resolved, PeftAdapterFormat.WeightsFileName);
    }

    /// <summary>
    /// Loads a full-model adapter bank in evaluation mode (no dropout). The native file is preferred because it states
    /// the sharing exactly; without it the PEFT files are read (sharing from their "sharelora" section, else plain
    /// LoRA). When <paramref name="baseConfig"/> is given, the adapter must fit that model: same layer count and every
    /// tensor's shape matching the model's module dimensions.
    /// </summary>
    public static AdapterBank Load(string dir, LlamaConfig? baseConfig = null, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var file = SourceFile(dir);
        bool native = Path.GetFileName(file) == NativeAdapterFormat.FileName;
        var bank = native
            ? NativeAdapterFormat.Load(file, dtype: dtype, device: device)
            : PeftAdapterFormat.Import(Path.GetDirectoryName(file)!, dtype: dtype, device: device);
        try
        {
            if (baseConfig is not null) CheckFits(bank, baseConfig, file, native);
        }
        catch
        {
            bank.Dispose();
            throw;
        }
        bank.Context = AdapterForwardContext.Eval;
        return bank;
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming <paramref name="file"/> and the first tensor that does not fit
    /// the model, with its expected and found shapes. Tensor names are the file's own (PEFT keys or native names).
    /// </summary>
    public static void CheckFits(AdapterBank bank, LlamaConfig config, string file, bool nativeNames)
    {
        var layout = bank.Layout;
        var first = layout.OrderedTargets[0];
        int modelLayers = config.NumHiddenLayers;
        if (layout.NumLayers > modelLayers)
        {
            // Name one tensor of the first layer the model lacks (a share-ab native file has none: all are shared).
            var extra = nativeNames ? bank.Parameters.FirstOrDefault(p => p.Layer == modelLayers)?.Name : PeftKeys.Key(modelLayers, first, 'A');
            throw new InvalidDataException(
                $"{file}: adapter has {layout.NumLayers} layers but the base model has {modelLayers} (num_hidden_layers)"
                + (extra is null ? "" : $"; tensor '{extra}' has no layer to adapt"));
        }
        if (layout.NumLayers < modelLayers || bank.FirstLayer != 0 || bank.EndLayer != modelLayers)
            throw new InvalidDataException(
                $"{file}: adapter covers layers [{bank.FirstLayer}, {bank.EndLayer}) of {layout.NumLayers} but the base model has {modelLayers} (num_hidden_layers)");

        var dims = AdapterLayout.LlamaDims(config);
        foreach (var p in bank.Parameters)
        {
            var (dIn, dOut) = dims[p.Module];
            long[] expected = p.Matrix == 'A' ? [layout.Rank, dIn] : [dOut, layout.Rank];
            if (p.Value.shape.SequenceEqual(expected)) continue;
            var name = nativeNames ? p.Name : PeftKeys.Key(p.Layer ?? 0, p.Module, p.Matrix);
            throw new InvalidDataException(
                $"{file}: tensor '{name}' has shape [{string.Join(", ", p.Value.shape)}], expected [{string.Join(", ", expected)}] for the base model's {PeftKeys.ProjName(p.Module)} ({dIn} -> {dOut}, r = {layout.Rank})");
        }
    }
}
