namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// MMLU results: per-subject accuracy, the macro accuracy (unweighted mean over subjects, the number QLoRA and the paper
/// report) and the micro accuracy (all questions pooled).
/// </summary>
public sealed record MmluReport(IReadOnlyDictionary<string, SubjectScore> Subjects, double MacroAccuracy, double MicroAccuracy, int Questions);
