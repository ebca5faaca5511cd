using ShareLoRA.Model.Tokenization;

namespace ShareLoRA.Training.Tests.Data;

/// <summary>
/// A tiny deterministic tokenizer for data tests: one id per UTF-16 char (char + 3), BOS = 1, EOS = 2, no pad token.
/// Its post-processor adds BOS when asked for special tokens, like LLaMA's tokenizer.json.
/// </summary>
public sealed class CharTokenizer(bool addsBos = true, int? padId = null, int? eosId = 2) : ITextTokenizer
{
    public const int Bos = 1;
    public const int Eos = 2;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>();
        if (addSpecialTokens && addsBos) ids.Add(Bos);
        ids.AddRange(text.Select(c => c + 3));
        return ids;
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) =>
        new(ids.Where(i => i >= 3 || !skipSpecialTokens).Select(i => i >= 3 ? (char)(i - 3) : i == Bos ? '^' : '$').ToArray());

    public int? BosId => Bos;
    public int? EosId => eosId;
    public int? PadId => padId;
    public int VocabSize => 65536 + 3;
}
