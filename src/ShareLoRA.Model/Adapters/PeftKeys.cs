namespace ShareLoRA.Model.Adapters;

/// <summary>
/// The Hugging Face / PEFT names of adapter tensors for Llama-family models, in one place because they must match
/// PEFT's literally: "base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight" [r, d_in] and
/// "...lora_B.weight" [d_out, r]; gate/up/down live under "mlp.".
/// </summary>
public static class PeftKeys
{
    /// <summary>Module name inside a decoder layer: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj.</summary>
    public static string ProjName(TargetModule m) => m.ShortName() + "_proj";

    /// <summary>"self_attn" for q, k, v, o; "mlp" for gate, up, down.</summary>
    public static string Block(TargetModule m) => m is TargetModule.Q or TargetModule.K or TargetModule.V or TargetModule.O ? "self_attn" : "mlp";

    /// <summary>Key of lora_A ('A') or lora_B ('B') of one module of one layer.</summary>
    public static string Key(int layer, TargetModule m, char matrix) =>
        $"base_model.model.model.layers.{layer}.{Block(m)}.{ProjName(m)}.lora_{matrix}.weight";

    /// <summary>Parses a key made by <see cref="Key"/>; false for anything else.</summary>
    public static bool TryParse(string key, out int layer, out TargetModule module, out char matrix)
    {
        layer = -1; module = default; matrix = default;
        const string prefix = "base_model.model.model.layers.";
        if (!key.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var parts = key[prefix.Length..].Split('.');
        // {i}.{block}.{proj}.lora_{A|B}.weight
        if (parts.Length != 5 || parts[4] != "weight" || parts[3] is not ("lora_A" or "lora_B")) return false;
        if (!int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out layer)) return false;
        if (!parts[2].EndsWith("_proj", StringComparison.Ordinal) || !TargetModules.TryParse(parts[2], out module)) return false;
        if (parts[1] != Block(module)) return false;
        matrix = parts[3][^1];
        return true;
    }
}
