using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// What one stage's forward of one micro-batch produced. Not the last stage: <see cref="Activation"/>, a detached tensor
/// to send to the next stage (the receiver owns it). The last stage: <see cref="LossSum"/>, the sum of the token
/// cross-entropies over positions whose (shifted) label is not -100, and <see cref="TargetTokens"/>, how many there were;
/// the step loss is the sum of LossSum over the step's micro-batches divided by the step's target tokens.
/// An evaluation forward of a sequence-level head (RoBERTa/GLUE) also returns <see cref="RowPredictions"/>, one fp32
/// value per row (see <see cref="IStageModel.EvalHead"/>); null for token-level (LM) heads and in training.
/// </summary>
public sealed record StageForwardResult(Tensor? Activation, double? LossSum, long TargetTokens, float[]? RowPredictions = null);
