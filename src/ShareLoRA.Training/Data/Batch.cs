namespace ShareLoRA.Training.Data;

/// <summary>
/// One micro-batch as plain arrays, row-major [Rows, Columns]: token ids padded on the right with the pad id, labels
/// -100 on pads, attention mask 1 on real tokens and 0 on pads. <see cref="BatchTensors"/> turns it into tensors.
/// <c>ExampleIndices</c> says which dataset examples the rows are, for tracing.
/// </summary>
public sealed record Batch(int Rows, int Columns, int[] InputIds, int[] Labels, int[] AttentionMask, int[] ExampleIndices)
{
    /// <summary>One sequence-level target per row (GLUE classes as whole numbers, STS-B scores), or null when the loss
    /// is on tokens (<see cref="Labels"/>). With it, <see cref="BatchTensors.Labels"/> is float32 [Rows].</summary>
    public float[]? RowLabels { get; init; }

    /// <summary>Positions that carry loss in this micro-batch (normalize the loss of an accumulated step by their sum).</summary>
    public int TargetTokens => Labels.Count(l => l != TokenizedExample.IgnoreIndex);

    /// <summary>Real (non-pad) tokens.</summary>
    public int Tokens => AttentionMask.Count(m => m != 0);

    public ReadOnlySpan<int> InputRow(int row) => InputIds.AsSpan(row * Columns, Columns);

    public ReadOnlySpan<int> LabelRow(int row) => Labels.AsSpan(row * Columns, Columns);

    public ReadOnlySpan<int> MaskRow(int row) => AttentionMask.AsSpan(row * Columns, Columns);
}
