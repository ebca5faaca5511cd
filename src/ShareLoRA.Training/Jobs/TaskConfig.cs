namespace ShareLoRA.Training.Jobs;

/// <summary>
/// The optional "task" section of a job file: what the training data is, when it is not causal-LM text/instructions.
/// Only GLUE exists: <c>"task": {"kind": "glue", "name": "sst2"}</c> with a RoBERTa model; data.train is then the task's
/// train TSV (as the GLUE script writes it), data.source_max_len the maximum sequence length, and the loss is one term
/// per sequence (classification, or regression for STS-B).
/// </summary>
/// <param name="Kind">"glue".</param>
/// <param name="Name">The GLUE task ("sst2", "SST-2", "mrpc", "rte", "cola", "stsb", "qnli").</param>
public sealed record TaskConfig(string Kind, string Name)
{
    public const string Glue = "glue";
    public static readonly IReadOnlyList<string> Kinds = [Glue];
}
