namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// One answered MMLU question: its subject and 0-based index in the test file, the logits of A–D at the last prompt
/// position, the predicted choice (argmax, the first maximum on ties) and the right one.
/// </summary>
public sealed record MmluPrediction(string Subject, int Index, IReadOnlyList<float> Logits, int Predicted, int Gold);
