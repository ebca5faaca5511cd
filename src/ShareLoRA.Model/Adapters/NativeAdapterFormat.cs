using System.Globalization;
using ShareLoRA.Model.IO;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// The native adapter file (adapter.safetensors): every parameter once under its bank name ("shared.q.A",
/// "layers.3.q.B"), with the layout, run seed and layer range in the safetensors metadata.
/// </summary>
public static class NativeAdapterFormat
{
    public const string FileName = "adapter.safetensors";
    private const string FormatTag = "sharelora-adapter";

    public static void Save(AdapterBank bank, string path)
    {
        var metadata = new Dictionary<string, string>
        {
            ["format"] = FormatTag,
            ["version"] = "1",
            ["layout"] = AdapterLayoutJson.Serialize(bank.Layout),
            ["seed"] = bank.Seed.ToString(CultureInfo.InvariantCulture),
            ["first_layer"] = bank.FirstLayer.ToString(CultureInfo.InvariantCulture),
            ["end_layer"] = bank.EndLayer.ToString(CultureInfo.InvariantCulture),
        };
        SafetensorsWriter.Write(path, bank.Parameters.Select(p => (p.Name, p.Value)), metadata);
    }

    /// <summary>
    /// Loads a bank. The layer range defaults to the file's; a narrower range (a pipeline stage reading its slice
    /// of a full file) is allowed, a wider one is not.
    /// </summary>
    public static AdapterBank Load(string path, int? firstLayer = null, int? endLayer = null,
        ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var (tensors, metadata) = AdapterTensorFile.Read(path);
        try
        {
            if (!metadata.TryGetValue("format", out var format) || format != FormatTag)
                throw new InvalidDataException($"{path}: metadata format must be \"{FormatTag}\" (got {(format is null ? "nothing" : $"\"{format}\"")})");
            if (!metadata.TryGetValue("layout", out var layoutJson))
                throw new InvalidDataException($"{path}: metadata has no layout");
            var layout = AdapterLayoutJson.Deserialize(layoutJson, path);
            long seed = ParseLong(metadata, "seed", path);
            int fileFirst = (int)ParseLong(metadata, "first_layer", path), fileEnd = (int)ParseLong(metadata, "end_layer", path);
            int first = firstLayer ?? fileFirst, end = endLayer ?? fileEnd;
            if (first < fileFirst || end > fileEnd)
                throw new InvalidDataException($"{path}: holds layers [{fileFirst}, {fileEnd}); layers [{first}, {end}) were requested");
            var bank = AdapterBank.Create(layout, seed, first, end, dtype, device);
            try { bank.LoadValues(tensors, ignoreOthers: first != fileFirst || end != fileEnd, source: path); }
            catch { bank.Dispose(); throw; }
            return bank;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    private static long ParseLong(IReadOnlyDictionary<string, string> metadata, string key, string path) =>
        metadata.TryGetValue(key, out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new InvalidDataException($"{path}: metadata '{key}' must be an integer (got {(s is null ? "nothing" : $"'{s}'")})");
}
