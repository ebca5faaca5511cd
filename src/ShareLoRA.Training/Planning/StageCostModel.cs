using ShareLoRA.Training.Adapters;

namespace ShareLoRA.Training.Planning;

/// <summary>
/// Per-token FLOPs and saved-activation sizes of the pieces a stage runs, for balancing and memory estimates.
/// Estimates for an eager implementation without recomputation, not measurements; what matters for balancing is
/// that layers, embeddings and head are weighed consistently.
/// </summary>
public static class StageCostModel
{
    /// <summary>
    /// Forward FLOPs of one decoder layer per token: 2 per weight of the seven frozen linear maps, 4 x (heads x
    /// head_dim) x S for QK^T and PV over the full S x S score matrix (what the math attention path computes), and
    /// 2 r (d_in + d_out) per adapted module.
    /// </summary>
    public static double LayerForwardFlopsPerToken(ModelShape shape, SharingPolicy policy, int rank, int seqLen) =>
        2.0 * LinearWeights(shape) + 4.0 * shape.QueryDim * seqLen + 2.0 * AdapterWeightsPerLayer(shape, policy, rank);

    /// <summary>
    /// Backward FLOPs of one decoder layer per token: the frozen linear maps need only input gradients (1x their
    /// forward), attention 2x, adapters 2x (input and weight gradients).
    /// </summary>
    public static double LayerBackwardFlopsPerToken(ModelShape shape, SharingPolicy policy, int rank, int seqLen) =>
        2.0 * LinearWeights(shape) + 8.0 * shape.QueryDim * seqLen + 4.0 * AdapterWeightsPerLayer(shape, policy, rank);

    /// <summary>Embedding lookup: a copy of hidden_size values per token (no multiply-adds; frozen, so no backward).</summary>
    public static double EmbeddingForwardFlopsPerToken(ModelShape shape) => shape.HiddenSize;

    /// <summary>Final norm + lm_head + softmax cross-entropy forward per token: 2 h V for the head, ~5 V for the loss.</summary>
    public static double HeadForwardFlopsPerToken(ModelShape shape) => 2.0 * shape.HiddenSize * shape.VocabSize + 5.0 * shape.VocabSize;

    /// <summary>Head backward per token: input gradient of the frozen lm_head (2 h V) and of the loss (~2 V).</summary>
    public static double HeadBackwardFlopsPerToken(ModelShape shape) => 2.0 * shape.HiddenSize * shape.VocabSize + 2.0 * shape.VocabSize;

    /// <summary>
    /// Activation elements one decoder layer keeps per token for its backward: residual input, normed input, q/k/v,
    /// the attention probabilities (heads x S), the attention output, the MLP residual and normed input, gate, up,
    /// SiLU(gate) and their product, plus per adapted module its dropped input (d_in) and A x (r).
    /// </summary>
    public static double LayerActivationElementsPerToken(ModelShape shape, SharingPolicy policy, int rank, int seqLen)
    {
        double h = shape.HiddenSize;
        double attention = 2 * h + shape.QueryDim + 2.0 * shape.KvDim + (double)shape.NumHeads * seqLen + shape.QueryDim;
        double mlp = 2 * h + 4.0 * shape.IntermediateSize;
        double adapters = policy.Targets.Sum(m => (double)shape.Dims(m).DIn + rank);
        return attention + mlp + adapters;
    }

    /// <summary>Head activation bytes per token: the final norm's input (activation dtype) and fp32 logits for the loss.</summary>
    public static double HeadActivationBytesPerToken(ModelShape shape, int activationBytes) =>
        (double)shape.HiddenSize * activationBytes + 4.0 * shape.VocabSize;

    private static double LinearWeights(ModelShape shape) => shape.LayerParameters - 2.0 * shape.HiddenSize;

    private static double AdapterWeightsPerLayer(ModelShape shape, SharingPolicy policy, int rank) =>
        policy.Targets.Sum(m => { var (i, o) = shape.Dims(m); return (double)rank * (i + o); });
}
