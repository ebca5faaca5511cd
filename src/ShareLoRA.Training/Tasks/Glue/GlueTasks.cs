namespace ShareLoRA.Training.Tasks.Glue;

/// <summary>The layouts of the supported GLUE tasks and lookup by the names people type ("sst2", "SST-2", "sts-b").</summary>
public static class GlueTasks
{
    // Train/dev layouts of glue_data/<TASK>/{train,dev}.tsv. Label orders follow the GLUE/HF processors:
    // RTE and QNLI map "entailment" -> 0 and "not_entailment" -> 1; the 0/1 tasks keep their digits.
    private static readonly IReadOnlyList<string> Binary = ["0", "1"];
    private static readonly IReadOnlyList<string> Entailment = ["entailment", "not_entailment"];

    public static readonly GlueTaskSpec Sst2 = new(GlueTask.Sst2, "SST-2", true, 2, 0, null, 1, Binary);
    public static readonly GlueTaskSpec Mrpc = new(GlueTask.Mrpc, "MRPC", true, 5, 3, 4, 0, Binary);
    public static readonly GlueTaskSpec Rte = new(GlueTask.Rte, "RTE", true, 4, 1, 2, 3, Entailment);
    public static readonly GlueTaskSpec Cola = new(GlueTask.Cola, "CoLA", false, 4, 3, null, 1, Binary);
    public static readonly GlueTaskSpec Stsb = new(GlueTask.Stsb, "STS-B", true, 10, 7, 8, 9, []);
    public static readonly GlueTaskSpec Qnli = new(GlueTask.Qnli, "QNLI", true, 4, 1, 2, 3, Entailment);

    public static IReadOnlyList<GlueTaskSpec> All { get; } = [Sst2, Mrpc, Rte, Cola, Stsb, Qnli];

    public static GlueTaskSpec Spec(GlueTask task) => All.First(s => s.Task == task);

    /// <summary>Finds a task by name, ignoring case and '-'/'_' ("sst2", "SST-2", "sts_b").</summary>
    public static GlueTaskSpec Parse(string name)
    {
        static string Key(string s) => new string(s.Where(char.IsLetterOrDigit).ToArray()).ToLowerInvariant();
        return All.FirstOrDefault(s => Key(s.Name) == Key(name))
            ?? throw new ArgumentException($"unknown GLUE task '{name}' (expected one of {string.Join(", ", All.Select(s => s.Name))})");
    }
}
