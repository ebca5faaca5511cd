namespace ShareLoRA.Training.Data;

/// <summary>The records of one data file, with the malformed ones that were skipped (skip_bad_lines).</summary>
/// <param name="Path">The file.</param>
/// <param name="Format">"alpaca" or "text": the format used (decided from the first record when "auto").</param>
/// <param name="Examples">Well-formed records in file order.</param>
/// <param name="SkippedRecords">Malformed records skipped.</param>
/// <param name="Problems">The first few skip reasons, each "file:line: reason".</param>
public sealed record DatasetFile(string Path, string Format, IReadOnlyList<RawExample> Examples, int SkippedRecords, IReadOnlyList<string> Problems);
