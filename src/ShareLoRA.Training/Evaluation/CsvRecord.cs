namespace ShareLoRA.Training.Evaluation;

/// <summary>One CSV record: its fields and the 1-based line of the file it starts on (a quoted field may span lines).</summary>
public sealed record CsvRecord(int Line, IReadOnlyList<string> Fields);
