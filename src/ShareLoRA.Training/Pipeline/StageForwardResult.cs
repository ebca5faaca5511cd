using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// What one stage's forward of one micro-batch produced. Not the last stage: <see cref="Activation"/>, a detached tensor
/// to send to the next stage (the receiver owns it). The last stage: <see cref="LossSum"/>, the sum of the token
/// cross-entropies over positions whose (shifted) label is not -100, and <see cref="TargetTokens"/>, how many there were;
/// the step loss is the sum of LossSum over the step's micro-batches divided by the step's target tokens.
/// </summary>
public sealed record StageForwardResult(Tensor? Activation, double? LossSum, long TargetTokens);
