namespace ShareLoRA.Training.Data;

/// <summary>What data preparation did, for the run log: counts of examples, skipped records, truncation and hold-out.</summary>
/// <param name="Format">"alpaca" or "text" (the train file's).</param>
/// <param name="TrainExamples">Training sequences.</param>
/// <param name="EvalExamples">Evaluation sequences (after eval_max_examples).</param>
/// <param name="HeldOut">Examples moved from train to eval by eval_fraction (0 with an eval file).</param>
/// <param name="SkippedRecords">Malformed records skipped (skip_bad_lines), train and eval files together.</param>
/// <param name="Problems">The first few skip reasons, "file:line: reason".</param>
/// <param name="TruncatedExamples">Examples that lost tokens to source_max_len / target_max_len.</param>
/// <param name="DroppedExamples">Examples left with no target token, dropped (they carry no loss).</param>
/// <param name="TrainTokens">Tokens in the training sequences.</param>
/// <param name="TrainTargetTokens">Training tokens that carry loss.</param>
public sealed record DataReport(
    string Format,
    int TrainExamples,
    int EvalExamples,
    int HeldOut,
    int SkippedRecords,
    IReadOnlyList<string> Problems,
    int TruncatedExamples,
    int DroppedExamples,
    long TrainTokens,
    long TrainTargetTokens)
{
    /// <summary>One line for the log.</summary>
    public override string ToString()
    {
        var notes = new List<string>();
        if (SkippedRecords > 0) notes.Add($"{SkippedRecords} malformed records skipped, first: {Problems[0]}");
        if (TruncatedExamples > 0) notes.Add($"{TruncatedExamples} truncated");
        if (DroppedExamples > 0) notes.Add($"{DroppedExamples} dropped with no target tokens");
        if (HeldOut > 0) notes.Add($"{HeldOut} held out for eval");
        var tail = notes.Count == 0 ? "" : " (" + string.Join("; ", notes) + ")";
        return $"data: {Format}, train {TrainExamples} examples / {TrainTokens} tokens ({TrainTargetTokens} with loss), " +
               $"eval {EvalExamples}{tail}";
    }
}
