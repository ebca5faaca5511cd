namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// One E2E meaning representation with all its human references (empty for testset.csv, which has none).
/// <see cref="Line"/> is the 1-based line where the MR first appears in its file.
/// </summary>
public sealed record E2eInstance(int Line, string Mr, IReadOnlyList<string> References);
