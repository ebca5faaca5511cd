using ShareLoRA.Model.Tokenization;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Evaluation prompts as token ids: BOS (when the tokenizer has one) + the prompt encoded without special tokens, as
/// QLoRA's collator builds its sources. A prompt longer than the model's positions is cut from the LEFT, keeping BOS:
/// the oldest few-shot text goes first and the question with its "Answer:" always survives.
/// </summary>
public static class PromptIds
{
    public static IReadOnlyList<int> Build(ITextTokenizer tokenizer, string prompt, int maxLength, out bool truncated)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        var body = tokenizer.Encode(prompt, addSpecialTokens: false);
        var ids = new List<int>(body.Count + 1);
        if (tokenizer.BosId is int bos) ids.Add(bos);
        int keep = Math.Min(body.Count, maxLength - ids.Count);
        truncated = keep < body.Count;
        for (int i = body.Count - keep; i < body.Count; i++) ids.Add(body[i]);
        return ids;
    }
}
