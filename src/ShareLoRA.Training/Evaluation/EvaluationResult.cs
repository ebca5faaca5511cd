namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// What one evaluation forward pass returned: float32 values per row (<see cref="EvaluationReadout.CandidateLogits"/>:
/// one per candidate; <see cref="EvaluationReadout.TargetLogProbs"/>: one per target position, in order; empty for
/// greedy decoding) and, for <see cref="EvaluationReadout.GreedyNext"/>, the chosen next token (else -1).
/// </summary>
public sealed record EvaluationResult(float[][] Values, int NextToken = -1);
