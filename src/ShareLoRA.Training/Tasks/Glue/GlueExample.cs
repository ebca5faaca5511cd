namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// One GLUE row: the sentence (or the first of a pair), the second sentence for pair tasks, and the target — a class
/// id for classification tasks (<see cref="Label"/>) or a similarity score for STS-B (<see cref="Score"/>).
/// <see cref="Line"/> is the 1-based line of the TSV file, for error messages and tracing predictions back.
/// </summary>
public sealed record GlueExample(int Line, string SentenceA, string? SentenceB, int Label, double Score);
