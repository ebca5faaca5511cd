namespace ShareLoRA.Training.Planning;

/// <summary>
/// Trainable adapter parameters of a policy, split into what is shared (stored once for the whole model) and what
/// every layer holds, beside the plain-LoRA count for the same targets and rank.
/// </summary>
/// <param name="Trainable">SharedParameters + NumLayers x PerLayerParameters: each shared tensor counted once.</param>
/// <param name="LoraTrainable">Plain LoRA on the same targets and rank: L x sum_m r (d_in + d_out).</param>
/// <param name="SharedParameters">Elements of the shared tensors (one A and/or B per module type).</param>
/// <param name="PerLayerParameters">Elements of the per-layer tensors of ONE layer.</param>
public sealed record ParameterCount(long Trainable, long LoraTrainable, long SharedParameters, long PerLayerParameters)
{
    /// <summary>
    /// Parameters that train fully beside the adapters: RoBERTa's classification head (dense + out_proj); 0 for
    /// language models (GPT-2's tied head and Llama's lm_head stay frozen). Not part of <see cref="Trainable"/>.
    /// </summary>
    public long HeadTrainable { get; init; }

    /// <summary>1 - trainable / lora_trainable: the fraction of LoRA's trainable parameters that sharing removes.</summary>
    public double Reduction => LoraTrainable == 0 ? 0 : 1.0 - (double)Trainable / LoraTrainable;
}
