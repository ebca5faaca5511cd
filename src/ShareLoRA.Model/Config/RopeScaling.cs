namespace ShareLoRA.Model.Config;

/// <summary>
/// RoPE frequency scaling from config.json's rope_scaling: "linear" (divide every frequency by Factor) or
/// "llama3" (Llama-3.1 style: low frequencies divided by Factor, high ones kept, a smooth blend between).
/// </summary>
public sealed record RopeScaling(
    string Type,
    double Factor,
    double? LowFreqFactor = null,
    double? HighFreqFactor = null,
    int? OriginalMaxPositionEmbeddings = null);
