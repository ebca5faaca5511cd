namespace ShareLoRA.Training.Evaluation;

/// <summary>What an evaluation forward pass reads from its logits (see <see cref="LogitsReadout"/>).</summary>
public enum EvaluationReadout
{
    /// <summary>Per row, the logits of the candidate ids at the row's last real token (MMLU's A–D).</summary>
    CandidateLogits = 0,

    /// <summary>Per row, log p(label[i+1] | tokens ..i) at every position whose next label is not -100 (perplexity).</summary>
    TargetLogProbs = 1,

    /// <summary>The argmax of the next-token logits after the last position of the single row (greedy decoding).</summary>
    GreedyNext = 2,
}
