namespace ShareLoRA.Cluster.Wire;

/// <summary>Element type of tensor bytes on the wire: fp32 (exact) or bf16 (half the bytes, ~3 significant digits).</summary>
public enum WireDType
{
    F32,
    Bf16,
}
