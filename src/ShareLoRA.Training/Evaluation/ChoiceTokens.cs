using ShareLoRA.Model.Tokenization;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// The token ids whose logits stand for the answers "A", "B", "C", "D". QLoRA's rule: encode the letter alone without
/// special tokens and take the first id (tokenizer("A", add_special_tokens=False).input_ids[0]). For Llama-2
/// (SentencePiece, a "▁" prepended) that is "▁A"; for byte-level BPE (GPT-2, Llama-3: no prefix space) it is "A".
/// When a vocabulary lacks "▁A" the letter encodes as "▁" + "A" and first ids collide (every such letter would read
/// the "▁" logit), so the rule falls back to the last id of each encoding — the letter piece itself — and says so.
/// </summary>
public sealed record ChoiceTokens(IReadOnlyList<int> Ids, IReadOnlyList<string> Letters, string Rule)
{
    public const string FirstTokenRule = "first-token";
    public const string LastTokenRule = "last-token";

    public static ChoiceTokens Resolve(ITextTokenizer tokenizer, IReadOnlyList<string>? letters = null)
    {
        letters ??= MmluQuestion.Letters;
        var encodings = letters.Select(l => tokenizer.Encode(l, addSpecialTokens: false)).ToArray();
        for (int i = 0; i < letters.Count; i++)
            if (encodings[i].Count == 0)
                throw new InvalidDataException($"the tokenizer encodes the answer letter \"{letters[i]}\" as no tokens");
        var first = encodings.Select(e => e[0]).ToArray();
        if (first.Distinct().Count() == first.Length) return new ChoiceTokens(first, letters, FirstTokenRule);
        var last = encodings.Select(e => e[^1]).ToArray();
        if (last.Distinct().Count() == last.Length) return new ChoiceTokens(last, letters, LastTokenRule);
        throw new InvalidDataException(
            $"the answer letters {string.Join(", ", letters)} do not map to distinct tokens (first ids {string.Join(",", first)}; last ids {string.Join(",", last)})");
    }
}
