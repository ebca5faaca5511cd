namespace ShareLoRA.Training.Evaluation;

/// <summary>One GSM8K record: the question, the worked answer ending in "#### N", and "file:line".</summary>
public sealed record Gsm8kProblem(string Question, string Answer, string Origin);
