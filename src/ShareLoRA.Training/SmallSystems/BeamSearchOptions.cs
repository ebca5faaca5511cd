namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// Beam search settings with the LoRA repo's E2E values as defaults (examples/NLG README: beam 10, length_penalty 0.8,
/// no_repeat_ngram_size 4, eval_len 64, repetition_penalty 1.0). <see cref="StopTokens"/> ends a hypothesis (the repo
/// passes --eos_token_id 628 on top of its default 50256).
/// </summary>
public sealed record BeamSearchOptions(
    int Beams = 10,
    double LengthPenalty = 0.8,
    int NoRepeatNgramSize = 4,
    int MaxNewTokens = 64,
    int MinLength = 0,
    IReadOnlyList<int>? StopTokens = null)
{
    public void Validate()
    {
        if (Beams < 1) throw new ArgumentException($"beam search: beams must be >= 1 (got {Beams})");
        if (MaxNewTokens < 1) throw new ArgumentException($"beam search: max new tokens must be >= 1 (got {MaxNewTokens})");
        if (NoRepeatNgramSize < 0) throw new ArgumentException($"beam search: no_repeat_ngram_size must be >= 0 (got {NoRepeatNgramSize})");
    }
}

/// <summary>The best hypothesis: generated tokens (without the stop token) and its score sum(log p) / length^lp.</summary>
public sealed record BeamResult(IReadOnlyList<int> Tokens, double Score, bool Stopped);
