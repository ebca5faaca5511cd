using ShareLoRA.Model.IO;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// Writes a base checkpoint with an adapter folded in (W = W0 + s B A for every adapted module of every layer) as a
/// plain Hugging Face directory: config.json and tokenizer files copied, one model.safetensors in the base dtypes.
/// </summary>
public static class MergedCheckpoint
{
    /// <summary>Files copied verbatim from the base directory when present (tokenizer and generation settings).</summary>
    public static readonly IReadOnlyList<string> CopiedFiles =
    [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
        "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt",
    ];

    /// <summary>
    /// Merges <paramref name="bank"/> (a full-model bank that fits the base model) into the checkpoint in
    /// <paramref name="modelDir"/> and writes the result to <paramref name="outDir"/> (created if needed; existing
    /// files of the same names are replaced). Tensors keep their stored dtype; the update is computed in the bank's dtype.
    /// </summary>
    /// <param name="adapterSource">Names the adapter in errors (its file).</param>
    /// <remarks>All merged tensors are held in memory until the file is written (fine for the models this runs on CPU).</remarks>
    public static void Write(string modelDir, AdapterBank bank, string outDir, string adapterSource = "adapter")
    {
        using var checkpoint = HfCheckpoint.Open(modelDir);
        AdapterDirectory.CheckFits(bank, checkpoint.Config, adapterSource, nativeNames: true);
        var adapted = new Dictionary<string, (int Layer, TargetModule Module)>();
        for (int l = 0; l < checkpoint.Config.NumHiddenLayers; l++)
            foreach (var m in bank.Layout.OrderedTargets)
                adapted[HfKeys.Weight(l, m)] = (l, m);

        var tensors = new List<KeyValuePair<string, Tensor>>();
        try
        {
            foreach (var name in checkpoint.TensorNames)
            {
                var stored = checkpoint.Read(name, checkpoint.Entry(name).ScalarType, CPU);
                if (adapted.TryGetValue(name, out var at))
                {
                    using var w0 = stored;
                    stored = bank.MergedWeight(at.Module, at.Layer, w0);
                }
                tensors.Add(new(name, stored));
            }
            foreach (var name in adapted.Keys)
                if (!checkpoint.Contains(name)) throw new InvalidDataException($"{modelDir}: tensor '{name}' not found in the checkpoint");

            Directory.CreateDirectory(outDir);
            SafetensorsWriter.Write(Path.Combine(outDir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            // A leftover shard index would describe files this directory no longer matches.
            File.Delete(Path.Combine(outDir, "model.safetensors.index.json"));
            foreach (var file in CopiedFiles)
            {
                var source = Path.Combine(modelDir, file);
                if (File.Exists(source)) File.Copy(source, Path.Combine(outDir, file), overwrite: true);
            }
        }
        finally
        {
            foreach (var (_, t) in tensors) t.Dispose();
        }
    }
}
