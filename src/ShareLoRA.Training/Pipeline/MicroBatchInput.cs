using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// What the stages of a pipeline need of one micro-batch: token ids [b, s] for the first stage, labels [b, s] for the
/// last (unshifted, -100 = no loss), and the attention mask [b, s] for every stage. Tensors stay the caller's.
/// </summary>
public sealed record MicroBatchInput(Tensor InputIds, Tensor AttentionMask, Tensor Labels);
