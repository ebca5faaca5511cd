using System.Text.Json;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.IO;
using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// Writes a GPT-2 run's adapter as a PEFT LoRA directory stock PEFT loads onto GPT2LMHeadModel. The honest mapping:
/// our adapters act on the q, k and v SLICES of the fused c_attn (as microsoft/LoRA's MergedLinear), while PEFT puts one
/// LoRA on the whole c_attn Conv1D (fan_in_fan_out true, output [q | k | v]). The sliced update is exactly a LoRA of
/// rank k·r on c_attn (k = adapted slices): lora_A = [A_q; A_v] stacked [k·r, d], lora_B [3d, k·r] block-structured with
/// B_q in q's rows and columns, B_v in v's, zeros elsewhere (so k's outputs get no update), and lora_alpha = k·alpha so
/// alpha / r is unchanged. Inference through PEFT therefore equals ours exactly (zeros cost k·r·d extra stored values);
/// only training dropout differs (PEFT draws one mask for c_attn's input, we draw one per slice). attn.c_proj (o),
/// mlp.c_fc (up) and mlp.c_proj (down) are whole Conv1Ds: plain LoRA of rank r. Shared matrices are repeated per
/// layer; the "sharelora" section records the sliced layout.
/// </summary>
public static class Gpt2AdapterExport
{
    /// <summary>The GPT-2 module a target lives in ("attn.c_attn" for q, k, v), as PEFT's target_modules names it.</summary>
    public static string ModuleName(TargetModule m) => m switch
    {
        TargetModule.Q or TargetModule.K or TargetModule.V => FusedAttention,
        TargetModule.O => "attn.c_proj",
        TargetModule.Up => "mlp.c_fc",
        TargetModule.Down => "mlp.c_proj",
        _ => throw new ArgumentOutOfRangeException(nameof(m), $"GPT-2 has no {m.ShortName()} module"),
    };

    public const string FusedAttention = "attn.c_attn";

    /// <summary>PEFT key of one LoRA matrix: "base_model.model.transformer.h.{i}.{module}.lora_{A|B}.weight".</summary>
    public static string LoraKey(int layer, string module, char matrix) => $"base_model.model.{Gpt2Keys.Layer(layer)}{module}.lora_{matrix}.weight";

    private static readonly TargetModule[] Slices = [TargetModule.Q, TargetModule.K, TargetModule.V];

    /// <summary>Writes the native adapter.safetensors (shared matrices once) and the PEFT pair into <paramref name="directory"/>.</summary>
    public static void Save(AdapterBank bank, string directory, string baseModelNameOrPath)
    {
        Directory.CreateDirectory(directory);
        NativeAdapterFormat.Save(bank, Path.Combine(directory, NativeAdapterFormat.FileName));
        SavePeft(bank, directory, baseModelNameOrPath);
    }

    /// <summary>Writes adapter_config.json and adapter_model.safetensors (see the type's summary for the c_attn mapping).</summary>
    public static void SavePeft(AdapterBank bank, string directory, string baseModelNameOrPath)
    {
        var layout = bank.Layout;
        if (bank.FirstLayer != 0 || bank.EndLayer != layout.NumLayers)
            throw new ArgumentException($"gpt2 peft export: needs every layer's adapters; this bank holds layers [{bank.FirstLayer}, {bank.EndLayer}) of {layout.NumLayers}");
        var slices = Slices.Where(layout.IsTarget).ToList();
        var whole = layout.OrderedTargets.Where(m => !Slices.Contains(m)).ToList();
        int r = layout.Rank, fusedRank = slices.Count * r;
        double fusedAlpha = slices.Count * layout.Alpha;
        // Only c_attn adapted (the paper's q, v): one global rank and alpha. Otherwise the global values are the plain
        // modules' and c_attn's differ through PEFT's rank_pattern / alpha_pattern.
        bool onlyFused = whole.Count == 0;
        Directory.CreateDirectory(directory);
        using (var stream = File.Create(Path.Combine(directory, PeftAdapterFormat.ConfigFileName)))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("peft_type", "LORA");
            w.WriteString("task_type", "CAUSAL_LM");
            w.WriteString("base_model_name_or_path", baseModelNameOrPath);
            w.WriteNumber("r", onlyFused ? fusedRank : r);
            w.WriteNumber("lora_alpha", onlyFused ? fusedAlpha : layout.Alpha);
            w.WriteNumber("lora_dropout", layout.Dropout);
            w.WriteStartArray("target_modules");
            foreach (var name in layout.OrderedTargets.Select(ModuleName).Distinct()) w.WriteStringValue(name);
            w.WriteEndArray();
            w.WriteStartObject("rank_pattern");
            if (!onlyFused && slices.Count > 1) w.WriteNumber(FusedAttention, fusedRank);
            w.WriteEndObject();
            w.WriteStartObject("alpha_pattern");
            if (!onlyFused && slices.Count > 1) w.WriteNumber(FusedAttention, fusedAlpha);
            w.WriteEndObject();
            PeftAdapterFormat.WriteLoraSettings(w, fanInFanOut: true, modulesToSave: null);    // GPT-2's Conv1D stores weights [in, out]
            w.WriteStartObject("sharelora");
            w.WriteString("method", layout.MethodName);
            w.WriteNumber("rank", r);
            w.WriteNumber("alpha", layout.Alpha);
            w.WriteStartArray("targets");
            foreach (var m in layout.OrderedTargets) w.WriteStringValue(m.ShortName());
            w.WriteEndArray();
            w.WriteStartArray("shared_a");
            foreach (var m in layout.OrderedTargets.Where(layout.IsSharedA)) w.WriteStringValue(m.ShortName());
            w.WriteEndArray();
            w.WriteStartArray("shared_b");
            foreach (var m in layout.OrderedTargets.Where(layout.IsSharedB)) w.WriteStringValue(m.ShortName());
            w.WriteEndArray();
            w.WriteString("c_attn_layout", "lora_A rows and lora_B columns are blocks of r per adapted slice in the order of c_attn_slices; " +
                "lora_B rows are c_attn's outputs [q | k | v]");
            w.WriteStartArray("c_attn_slices");
            foreach (var m in slices) w.WriteStringValue(m.ShortName());
            w.WriteEndArray();
            w.WriteNumber("num_layers", layout.NumLayers);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tensors = new List<(string, Tensor)>();
        for (int l = 0; l < layout.NumLayers; l++)
        {
            if (slices.Count > 0)
            {
                var (a, b) = FusedAttentionLora(bank, l, slices);
                tensors.Add((LoraKey(l, FusedAttention, 'A'), a));
                tensors.Add((LoraKey(l, FusedAttention, 'B'), b));
            }
            foreach (var m in whole)
            {
                tensors.Add((LoraKey(l, ModuleName(m), 'A'), bank.A(m, l).detach()));
                tensors.Add((LoraKey(l, ModuleName(m), 'B'), bank.B(m, l).detach()));
            }
        }
        SafetensorsWriter.Write(Path.Combine(directory, PeftAdapterFormat.WeightsFileName), tensors,
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>
    /// Layer <paramref name="layer"/>'s q/k/v slice adapters as one LoRA on c_attn: A [k·r, d] (slices stacked) and
    /// B [3d, k·r] (slice j's B in rows of its part of [q | k | v] and columns [j·r, (j+1)·r), zeros elsewhere).
    /// </summary>
    public static (Tensor A, Tensor B) FusedAttentionLora(AdapterBank bank, int layer, IReadOnlyList<TargetModule> slices)
    {
        int r = bank.Layout.Rank;
        int d = bank.Layout.Dims[slices[0]].DOut;
        foreach (var m in slices)
            if (bank.Layout.Dims[m] != (d, d))
                throw new ArgumentException($"gpt2 peft export: slice {m.ShortName()} must be [{d}, {d}] (got {bank.Layout.Dims[m]})");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = cat(slices.Select(m => bank.A(m, layer).detach()).ToList(), 0);                 // [k·r, d]
        var b = zeros(3L * d, (long)slices.Count * r, bank.DType, bank.Device);                  // [3d, k·r]
        for (int j = 0; j < slices.Count; j++)
        {
            int part = Array.IndexOf(Slices, slices[j]);                                         // 0 q, 1 k, 2 v
            b.narrow(0, (long)part * d, d).narrow(1, (long)j * r, r).copy_(bank.B(slices[j], layer));
        }
        return (a.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }
}
