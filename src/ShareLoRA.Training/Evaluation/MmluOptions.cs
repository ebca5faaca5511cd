namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// How to run MMLU: <paramref name="Shots"/> dev examples per prompt (5 or 0 in QLoRA), the subjects (null = every
/// test file), at most <paramref name="Limit"/> test questions per subject (null = all), forward batch size.
/// </summary>
public sealed record MmluOptions(int Shots = 5, IReadOnlyList<string>? Subjects = null, int? Limit = null, int BatchSize = 4);
