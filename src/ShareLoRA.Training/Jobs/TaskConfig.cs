namespace ShareLoRA.Training.Jobs;

/// <summary>
/// The optional "task" section of a job file: what the training data is, when it is not causal-LM text/instructions.
/// <list type="bullet">
/// <item><c>"task": {"kind": "glue", "name": "sst2"}</c> with a RoBERTa model: data.train/eval are the task's GLUE TSVs,
/// data.source_max_len the maximum sequence length, and the loss is one term per sequence (classification, or
/// regression for STS-B).</item>
/// <item><c>"task": {"kind": "e2e", "label_smoothing": 0.1}</c> with a GPT-2 model: data.train/eval are E2E NLG data (the
/// official CSV or LoRA's processed 'context||completion' text), one sequence per (MR, reference) pair with the loss on
/// the completion tokens, label-smoothed in training (eps 0.1 by default, the E2E paper's) and plain in evaluation.</item>
/// </list>
/// </summary>
/// <param name="Kind">"glue" or "e2e".</param>
/// <param name="Name">The GLUE task ("sst2", "SST-2", "mrpc", "rte", "cola", "stsb", "qnli"); null for E2E.</param>
/// <param name="LabelSmoothing">E2E only: eps of the training loss's label smoothing, in [0, 1); 0 for GLUE.</param>
public sealed record TaskConfig(string Kind, string? Name = null, double LabelSmoothing = 0.0)
{
    public const string Glue = "glue";
    public const string E2e = "e2e";
    public static readonly IReadOnlyList<string> Kinds = [Glue, E2e];

    /// <summary>The E2E training loss's default label smoothing (the LoRA repo's --label_smooth 0.1).</summary>
    public const double DefaultE2eLabelSmoothing = 0.1;

    /// <summary>"glue/sst2" or "e2e", for messages.</summary>
    public override string ToString() => Name is null ? Kind : $"{Kind}/{Name}";
}
