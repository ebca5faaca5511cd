namespace ShareLoRA.Model.Tokenization;

/// <summary>Text to token ids and back, as a Hugging Face tokenizer.json defines it.</summary>
public interface ITextTokenizer
{
    /// <summary>Token ids of <paramref name="text"/>; with special tokens, as the file's post-processor adds them (e.g. BOS).</summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    /// <summary>Text of <paramref name="ids"/>; special tokens dropped unless <paramref name="skipSpecialTokens"/> is false.</summary>
    string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true);

    int? BosId { get; }
    int? EosId { get; }
    int? PadId { get; }
    int VocabSize { get; }
}
