namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>
/// Column layout of one GLUE task's train/dev TSV as the GLUE download script writes them: whether there is a header
/// row, how many tab-separated columns every row has, which columns hold the sentence(s) and the target, and how
/// label strings map to class ids (in the order of the Hugging Face/GLUE processors, so ids agree with theirs).
/// </summary>
/// Name is the task's folder name in glue_data ("SST-2"); LabelNames holds class names by id and is empty for the
/// regression task (STS-B).
public sealed record GlueTaskSpec(
    GlueTask Task,
    string Name,
    bool HasHeader,
    int ColumnCount,
    int SentenceAColumn,
    int? SentenceBColumn,
    int TargetColumn,
    IReadOnlyList<string> LabelNames)
{
    /// <summary>True for STS-B, whose target is a real-valued score rather than a class.</summary>
    public bool IsRegression => LabelNames.Count == 0;

    /// <summary>Number of classes (1 for regression: one output unit).</summary>
    public int OutputCount => IsRegression ? 1 : LabelNames.Count;
}
