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
    /// <remarks>Streams: one base tensor (and its merged copy) in memory at a time, whatever the model size.</remarks>
    public static void Write(string modelDir, AdapterBank bank, string outDir, string adapterSource = "adapter")
    {
        using var checkpoint = HfCheckpoint.Open(modelDir);
        AdapterDirectory.CheckFits(bank, checkpoint.Config, adapterSource, nativeNames: true);
        var adapted = new Dictionary<string, (int Layer, TargetModule Module)>();
        for (int l = 0; l < checkpoint.Config.NumHiddenLayers; l++)
            foreach (var m in bank.Layout.OrderedTargets)
                adapted[HfKeys.Weight(l, m)] = (l, m);

        foreach (var name in adapted.Keys)
            if (!checkpoint.Contains(name)) throw new InvalidDataException($"{modelDir}: tensor '{name}' not found in the checkpoint");

        // One tensor in memory at a time: the header comes from the checkpoint's entries (merging keeps dtype and shape).
        var specs = checkpoint.TensorNames
            .Select(name => checkpoint.Entry(name))
            .Select(e => new SafetensorsWriter.TensorSpec(e.Name, e.ScalarType, e.Shape))
            .ToList();
        Directory.CreateDirectory(outDir);
        SafetensorsWriter.Write(Path.Combine(outDir, "model.safetensors"), specs, spec =>
        {
            var stored = checkpoint.Read(spec.Name, spec.DType, CPU);
            if (!adapted.TryGetValue(spec.Name, out var at)) return stored;
            using (stored) return bank.MergedWeight(at.Module, at.Layer, stored);
        }, new Dictionary<string, string> { ["format"] = "pt" });
        // A leftover shard index would describe files this directory no longer matches.
        File.Delete(Path.Combine(outDir, "model.safetensors.index.json"));
        foreach (var file in CopiedFiles)
        {
            var source = Path.Combine(modelDir, file);
            if (File.Exists(source)) File.Copy(source, Path.Combine(outDir, file), overwrite: true);
        }
    }
}
