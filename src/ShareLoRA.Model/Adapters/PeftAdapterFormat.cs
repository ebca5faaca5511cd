using System.Text.Json;
using ShareLoRA.Model.IO;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// Hugging Face PEFT adapter directories (adapter_config.json + adapter_model.safetensors). Export repeats a shared
/// matrix under every layer's key so stock PEFT / vLLM load it as plain LoRA; the config's extra "sharelora" section
/// names the method and the shared modules so import can fold the copies back into one tensor.
/// </summary>
/// <remarks>
/// PEFT releases before forward-compatible configs (huggingface/peft#2038) reject unknown config keys; export with
/// includeShareLoraSection: false for those, and pass the sharing to <see cref="Import"/> yourself.
/// </remarks>
public static class PeftAdapterFormat
{
    public const string ConfigFileName = "adapter_config.json";
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>
    /// The fixed LoRA settings of an adapter_config.json, after target_modules, in PEFT's order: no bias, inference mode,
    /// plain LoRA (no rsLoRA, no DoRA), every layer. Every PEFT writer of ours (Llama, GPT-2, RoBERTa) goes through this.
    /// </summary>
    /// <param name="w">The writer, inside the config object.</param>
    /// <param name="fanInFanOut">True for Conv1D bases that store weights [in, out] (GPT-2's c_attn).</param>
    /// <param name="modulesToSave">Modules PEFT saves whole (a classifier head), or null.</param>
    public static void WriteLoraSettings(Utf8JsonWriter w, bool fanInFanOut, IReadOnlyList<string>? modulesToSave)
    {
        w.WriteString("bias", "none");
        w.WriteBoolean("fan_in_fan_out", fanInFanOut);
        w.WriteBoolean("inference_mode", true);
        w.WriteBoolean("init_lora_weights", true);
        if (modulesToSave is null) w.WriteNull("modules_to_save");
        else
        {
            w.WriteStartArray("modules_to_save");
            foreach (var m in modulesToSave) w.WriteStringValue(m);
            w.WriteEndArray();
        }
        w.WriteNull("layers_to_transform");
        w.WriteBoolean("use_rslora", false);
        w.WriteBoolean("use_dora", false);
    }

    /// <summary>Writes a full-model bank (layers [0, L)) as a PEFT LoRA adapter into <paramref name="directory"/> (created if needed).</summary>
    public static void Export(AdapterBank bank, string directory, string baseModelNameOrPath, bool includeShareLoraSection = true)
    {
        var layout = bank.Layout;
        if (bank.FirstLayer != 0 || bank.EndLayer != layout.NumLayers)
            throw new ArgumentException($"peft export: needs every layer's adapters; this bank holds layers [{bank.FirstLayer}, {bank.EndLayer}) of {layout.NumLayers}");
        Directory.CreateDirectory(directory);

        using (var stream = File.Create(Path.Combine(directory, ConfigFileName)))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("peft_type", "LORA");
            w.WriteString("task_type", "CAUSAL_LM");
            w.WriteString("base_model_name_or_path", baseModelNameOrPath);
            w.WriteNumber("r", layout.Rank);
            w.WriteNumber("lora_alpha", layout.Alpha);
            w.WriteNumber("lora_dropout", layout.Dropout);
            w.WriteStartArray("target_modules");
            foreach (var m in layout.OrderedTargets) w.WriteStringValue(PeftKeys.ProjName(m));
            w.WriteEndArray();
            WriteLoraSettings(w, fanInFanOut: false, modulesToSave: null);
            if (includeShareLoraSection)
            {
                w.WriteStartObject("sharelora");
                AdapterLayoutJson.WriteSharing(w, layout, PeftKeys.ProjName);
                w.WriteNumber("num_layers", layout.NumLayers);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }

        var tensors = new List<(string, Tensor)>();
        for (int l = 0; l < layout.NumLayers; l++)
            foreach (var m in layout.OrderedTargets)
            {
                tensors.Add((PeftKeys.Key(l, m, 'A'), bank.A(m, l)));
                tensors.Add((PeftKeys.Key(l, m, 'B'), bank.B(m, l)));
            }
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFileName), tensors,
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>
    /// Reads a PEFT LoRA adapter directory into a bank. Sharing comes from <paramref name="sharedA"/>/<paramref name="sharedB"/>
    /// when given, else from the config's "sharelora" section, else none (plain LoRA). For every shared module the
    /// per-layer copies must be bitwise identical; the one tensor is then held once.
    /// </summary>
    public static AdapterBank Import(string directory, long seed = 0, IReadOnlySet<TargetModule>? sharedA = null,
        IReadOnlySet<TargetModule>? sharedB = null, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var configPath = Path.Combine(directory, ConfigFileName);
        var weightsPath = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{configPath}: not found (a PEFT adapter directory needs {ConfigFileName})", configPath);

        int rank; double alpha, dropout; List<TargetModule> targets;
        HashSet<TargetModule> fileSharedA = [], fileSharedB = [];
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(configPath));
            var root = doc.RootElement;
            var peftType = root.TryGetProperty("peft_type", out var pt) ? pt.GetString() : null;
            if (peftType != "LORA") throw new InvalidDataException($"{configPath}: peft_type must be \"LORA\" (got {(peftType is null ? "nothing" : $"\"{peftType}\"")})");
            if (root.TryGetProperty("bias", out var bias) && bias.GetString() != "none")
                throw new InvalidDataException($"{configPath}: bias must be \"none\" (got \"{bias.GetString()}\"); LoRA biases are not supported");
            if (root.TryGetProperty("use_dora", out var dora) && dora.ValueKind == JsonValueKind.True)
                throw new InvalidDataException($"{configPath}: use_dora is true; DoRA adapters are not supported");
            if (root.TryGetProperty("use_rslora", out var rs) && rs.ValueKind == JsonValueKind.True)
                throw new InvalidDataException($"{configPath}: use_rslora is true; rsLoRA scaling is not supported");
            rank = root.GetProperty("r").GetInt32();
            alpha = root.GetProperty("lora_alpha").GetDouble();
            dropout = root.TryGetProperty("lora_dropout", out var d) ? d.GetDouble() : 0.0;
            var tm = root.GetProperty("target_modules");
            if (tm.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{configPath}: target_modules must be a list of module names (a regex string is not supported)");
            targets = AdapterLayoutJson.ReadModules(tm, configPath, "target_modules");
            if (root.TryGetProperty("sharelora", out var share))
            {
                fileSharedA = AdapterLayoutJson.ReadModules(share.GetProperty("shared_a"), configPath, "sharelora.shared_a").ToHashSet();
                fileSharedB = AdapterLayoutJson.ReadModules(share.GetProperty("shared_b"), configPath, "sharelora.shared_b").ToHashSet();
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{configPath}: not a valid PEFT LoRA config ({e.Message})", e);
        }
        var useA = sharedA ?? fileSharedA;
        var useB = sharedB ?? fileSharedB;
        var sharingSource = sharedA is null && sharedB is null ? "sharelora section" : "requested sharing";

        var (tensors, _) = AdapterTensorFile.Read(weightsPath);
        try
        {
            var byKey = new Dictionary<(int, TargetModule, char), Tensor>();
            foreach (var (key, t) in tensors)
            {
                if (!PeftKeys.TryParse(key, out var l, out var m, out var mat))
                    throw new InvalidDataException($"{weightsPath}: unexpected tensor '{key}' (expected base_model.model.model.layers.{{i}}.{{self_attn|mlp}}.{{q|k|v|o|gate|up|down}}_proj.lora_{{A|B}}.weight)");
                if (!targets.Contains(m))
                    throw new InvalidDataException($"{weightsPath}: tensor '{key}' is for {PeftKeys.ProjName(m)}, which target_modules does not list");
                byKey[(l, m, mat)] = t;
            }
            if (byKey.Count == 0) throw new InvalidDataException($"{weightsPath}: no LoRA tensors found");
            int numLayers = byKey.Keys.Max(k => k.Item1) + 1;

            var dims = new Dictionary<TargetModule, (int DIn, int DOut)>();
            foreach (var m in targets)
            {
                var a0 = Get(byKey, 0, m, 'A', weightsPath);
                var b0 = Get(byKey, 0, m, 'B', weightsPath);
                if (a0.ndim != 2 || a0.shape[0] != rank)
                    throw new InvalidDataException($"{weightsPath}: {PeftKeys.Key(0, m, 'A')} must be [r={rank}, d_in] (got [{string.Join(", ", a0.shape)}])");
                if (b0.ndim != 2 || b0.shape[1] != rank)
                    throw new InvalidDataException($"{weightsPath}: {PeftKeys.Key(0, m, 'B')} must be [d_out, r={rank}] (got [{string.Join(", ", b0.shape)}])");
                dims[m] = ((int)a0.shape[1], (int)b0.shape[0]);
            }

            var layout = new AdapterLayout(numLayers, dims, targets, useA.ToHashSet(), useB.ToHashSet(), rank, alpha, dropout);
            try { layout.Validate(); }
            catch (ArgumentException e) { throw new InvalidDataException($"{configPath}: {e.Message}", e); }

            var values = new Dictionary<string, Tensor>();
            foreach (var m in targets)
                foreach (var mat in new[] { 'A', 'B' })
                {
                    bool shared = mat == 'A' ? layout.IsSharedA(m) : layout.IsSharedB(m);
                    var first = Get(byKey, 0, m, mat, weightsPath);
                    for (int l = 0; l < numLayers; l++)
                    {
                        var t = Get(byKey, l, m, mat, weightsPath);
                        if (!t.shape.SequenceEqual(first.shape))
                            throw new InvalidDataException($"{weightsPath}: {PeftKeys.Key(l, m, mat)} must be [{string.Join(", ", first.shape)}] like layer 0 (got [{string.Join(", ", t.shape)}])");
                        if (shared && !Identical(t, first))
                            throw new InvalidDataException($"{weightsPath}: {PeftKeys.Key(l, m, mat)} differs from layer 0's copy, but the {sharingSource} shares {PeftKeys.ProjName(m)}'s {mat} across layers");
                        if (!shared) values[AdapterParameter.LayerName(l, m, mat)] = t;
                    }
                    if (shared) values[AdapterParameter.SharedName(m, mat)] = first;
                }

            var bank = AdapterBank.Create(layout, seed, 0, null, dtype, device);
            try { bank.LoadValues(values, source: weightsPath); }
            catch { bank.Dispose(); throw; }
            return bank;
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    private static bool Identical(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.dtype == b.dtype && eq(a, b).all().item<bool>();
    }

    private static Tensor Get(Dictionary<(int, TargetModule, char), Tensor> byKey, int layer, TargetModule m, char mat, string path) =>
        byKey.TryGetValue((layer, m, mat), out var t) ? t
            : throw new InvalidDataException($"{path}: missing tensor '{PeftKeys.Key(layer, m, mat)}'");
}
