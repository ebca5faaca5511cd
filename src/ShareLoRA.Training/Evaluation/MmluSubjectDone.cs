namespace ShareLoRA.Training.Evaluation;

/// <summary>Progress: subject <paramref name="Position"/> of <paramref name="Count"/> (1-based) finished with its score.</summary>
public sealed record MmluSubjectDone(string Subject, int Position, int Count, SubjectScore Score, int TruncatedPrompts);
