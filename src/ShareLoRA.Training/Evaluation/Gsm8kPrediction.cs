namespace ShareLoRA.Training.Evaluation;

/// <summary>One answered GSM8K problem: its 0-based index, the completion, the extracted and gold numbers, and why generation stopped.</summary>
public sealed record Gsm8kPrediction(int Index, string Completion, string? Predicted, string Gold, bool Correct, string StopReason, bool PromptTruncated);
