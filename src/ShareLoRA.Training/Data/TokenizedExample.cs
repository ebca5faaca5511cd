namespace ShareLoRA.Training.Data;

/// <summary>
/// One training sequence: token ids and, per position, the label (the same id where the loss applies, -100 elsewhere).
/// Labels are not shifted; the loss compares logits at position i with the label at i + 1.
/// </summary>
public sealed record TokenizedExample(int[] InputIds, int[] Labels)
{
    /// <summary>The label of positions without loss (PyTorch's cross_entropy ignore_index).</summary>
    public const int IgnoreIndex = -100;

    /// <summary>
    /// A sequence-level target (a GLUE class id, or an STS-B score) instead of token labels: then <see cref="Labels"/> is
    /// all <see cref="IgnoreIndex"/> and the loss has one term for the whole sequence. Null for causal-LM examples.
    /// </summary>
    public float? RowLabel { get; init; }

    public int Length => InputIds.Length;

    /// <summary>Positions that carry loss.</summary>
    public int TargetTokens => Labels.Count(l => l != IgnoreIndex);
}
