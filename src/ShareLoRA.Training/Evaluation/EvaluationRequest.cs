using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// One evaluation forward pass as plain arrays — the form that travels to pipeline stages — and what to read from its
/// logits. Rows are right-padded to <paramref name="Columns"/>; <paramref name="AttentionMask"/> (1 real, 0 pad) is
/// null for a single row, which has no padding, exactly as the single-process evaluators have always run it.
/// </summary>
/// <param name="Readout">What to read from the logits.</param>
/// <param name="Rows">Sequences in the batch.</param>
/// <param name="Columns">Tokens per row after padding.</param>
/// <param name="InputIds">[Rows * Columns] token ids, row-major.</param>
/// <param name="AttentionMask">[Rows * Columns] or null (one row).</param>
/// <param name="CandidateIds">The ids whose logits <see cref="EvaluationReadout.CandidateLogits"/> returns; else empty.</param>
/// <param name="Labels">[Rows * Columns] unshifted labels (-100 = no target) for <see cref="EvaluationReadout.TargetLogProbs"/>; else null.</param>
/// <param name="StartPosition">Position of the first column (greedy decoding with a KV cache); 0 otherwise.</param>
public sealed record EvaluationRequest(
    EvaluationReadout Readout,
    int Rows,
    int Columns,
    int[] InputIds,
    int[]? AttentionMask,
    int[] CandidateIds,
    int[]? Labels,
    int StartPosition)
{
    /// <summary>The sequences right-padded (pad id 0, masked) into one batch; read the candidates' logits at each last token.</summary>
    public static EvaluationRequest ForCandidates(IReadOnlyList<IReadOnlyList<int>> sequences, IReadOnlyList<int> candidateIds)
    {
        var examples = sequences.Select(s => new TokenizedExample(s.ToArray(), s.ToArray())).ToArray();
        var batch = BatchCollator.Collate(examples, Enumerable.Range(0, examples.Length).ToArray(), padId: 0);
        return new EvaluationRequest(EvaluationReadout.CandidateLogits, batch.Rows, batch.Columns, batch.InputIds,
            batch.Rows > 1 ? batch.AttentionMask : null, candidateIds.ToArray(), null, 0);
    }

    /// <summary>A collated batch; read the log-probability of every target label.</summary>
    public static EvaluationRequest ForTargets(Batch batch) =>
        new(EvaluationReadout.TargetLogProbs, batch.Rows, batch.Columns, batch.InputIds, batch.Rows > 1 ? batch.AttentionMask : null,
            [], batch.Labels, 0);

    /// <summary>New tokens of one sequence at positions [startPosition, ...) after a KV cache holding startPosition; read the greedy next token.</summary>
    public static EvaluationRequest ForGreedyStep(IReadOnlyList<int> tokens, int startPosition) =>
        new(EvaluationReadout.GreedyNext, 1, tokens.Count, tokens.ToArray(), null, [], null, startPosition);

    /// <summary>Index of each row's last real token: from the mask, or the last column for a single row.</summary>
    public int[] LastPositions()
    {
        var last = new int[Rows];
        for (int r = 0; r < Rows; r++)
        {
            if (AttentionMask is null) { last[r] = Columns - 1; continue; }
            int n = 0;
            for (int c = 0; c < Columns; c++) n += AttentionMask[r * Columns + c] != 0 ? 1 : 0;
            last[r] = n - 1;
        }
        return last;
    }

    /// <summary>
    /// Null when the request is well-formed for a model with <paramref name="vocabSize"/> tokens and
    /// <paramref name="maxPositions"/> positions, else why not (requests may come from the network).
    /// </summary>
    public string? Problem(int vocabSize, int maxPositions)
    {
        if (!Enum.IsDefined(Readout)) return $"unknown readout {(int)Readout}";
        if (Rows < 1 || Columns < 1) return $"a request needs at least one row and one column (got {Rows} x {Columns})";
        long cells = (long)Rows * Columns;
        if (InputIds is null || InputIds.LongLength != cells) return $"input ids must hold {cells} values (rows x columns), found {InputIds?.Length ?? 0}";
        if (AttentionMask is not null && AttentionMask.LongLength != cells) return $"attention mask must hold {cells} values, found {AttentionMask.Length}";
        if (AttentionMask is null && Rows > 1) return "a batch of more than one row needs an attention mask";
        if (StartPosition < 0 || StartPosition + Columns > maxPositions)
            return $"positions [{StartPosition}, {StartPosition + Columns}) exceed the model's {maxPositions} positions";
        foreach (var id in InputIds)
            if (id < 0 || id >= vocabSize) return $"token id {id} is outside the vocabulary [0, {vocabSize})";
        switch (Readout)
        {
            case EvaluationReadout.CandidateLogits:
                if (CandidateIds is null || CandidateIds.Length == 0) return "no candidate ids to read";
                foreach (var id in CandidateIds)
                    if (id < 0 || id >= vocabSize) return $"candidate token id {id} is outside the vocabulary [0, {vocabSize})";
                if (LastPositions().Any(p => p < 0)) return "a row has no real token (all masked)";
                break;
            case EvaluationReadout.TargetLogProbs:
                if (Labels is null || Labels.LongLength != cells) return $"labels must hold {cells} values, found {Labels?.Length ?? 0}";
                if (Columns < 2) return "target log-probabilities need at least two columns";
                foreach (var l in Labels)
                    if (l != TokenizedExample.IgnoreIndex && (l < 0 || l >= vocabSize)) return $"label {l} is outside the vocabulary [0, {vocabSize})";
                break;
            case EvaluationReadout.GreedyNext:
                if (Rows != 1) return $"greedy decoding takes one row (got {Rows})";
                break;
        }
        return null;
    }
}
