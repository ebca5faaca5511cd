using ShareLoRA.Model.Tokenization;

namespace ShareLoRA.Training.Data;

/// <summary>Pads examples on the right to the longest one in the micro-batch (dynamic padding, as QLoRA's collator).</summary>
public static class BatchCollator
{
    /// <summary>The pad id of a tokenizer: PAD, else EOS (LLaMA has no pad token), else 0. Pads carry no loss anyway.</summary>
    public static int PadIdOf(ITextTokenizer tokenizer) => tokenizer.PadId ?? tokenizer.EosId ?? 0;

    public static Batch Collate(IReadOnlyList<TokenizedExample> examples, IReadOnlyList<int> indices, int padId)
    {
        if (indices.Count == 0) throw new ArgumentException("a batch needs at least one example", nameof(indices));
        var rows = indices.Count;
        var columns = indices.Max(i => examples[i].Length);
        var ids = new int[rows * columns];
        var labels = new int[rows * columns];
        var mask = new int[rows * columns];
        Array.Fill(ids, padId);
        Array.Fill(labels, TokenizedExample.IgnoreIndex);
        for (var r = 0; r < rows; r++)
        {
            var example = examples[indices[r]];
            example.InputIds.CopyTo(ids, r * columns);
            example.Labels.CopyTo(labels, r * columns);
            Array.Fill(mask, 1, r * columns, example.Length);
        }
        // Sequence-level targets (GLUE) travel per row; a micro-batch never mixes the two kinds of example.
        float[]? rowLabels = examples[indices[0]].RowLabel is null ? null
            : indices.Select(i => examples[i].RowLabel ?? throw new ArgumentException($"example {i} has no sequence label but example {indices[0]} has one")).ToArray();
        return new Batch(rows, columns, ids, labels, mask, indices.ToArray()) { RowLabels = rowLabels };
    }
}
