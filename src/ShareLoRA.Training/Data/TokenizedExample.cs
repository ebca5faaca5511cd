namespace ShareLoRA.Training.Data;

/// <summary>
/// One training sequence: token ids and, per position, the label (the same id where the loss applies, -100 elsewhere).
/// Labels are not shifted; the loss compares logits at position i with the label at i + 1.
/// </summary>
public sealed record TokenizedExample(int[] InputIds, int[] Labels)
{
    /// <summary>The label of positions without loss (PyTorch's cross_entropy ignore_index).</summary>
    public const int IgnoreIndex = -100;

    public int Length => InputIds.Length;

    /// <summary>Positions that carry loss.</summary>
    public int TargetTokens => Labels.Count(l => l != IgnoreIndex);
}
