using ShareLoRA.Model.Tokenization;

namespace ShareLoRA.Training.Tests.Evaluation;

/// <summary>
/// A one-char-per-token tokenizer small enough for a tiny random model: BOS 1, EOS 2, then one id per char of
/// <see cref="Alphabet"/> (any other char becomes '?'). Decoding is exact for text made of the alphabet.
/// </summary>
public sealed class AlphabetTokenizer : ITextTokenizer
{
    public const string Alphabet = "\n :.?#,$-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    public const int Bos = 1;
    public const int Eos = 2;

    public static int Id(char c) => Alphabet.IndexOf(c) is var i and >= 0 ? i + 3 : Alphabet.IndexOf('?') + 3;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>();
        if (addSpecialTokens) ids.Add(Bos);
        ids.AddRange(text.Select(Id));
        return ids;
    }

    /// <summary>BOS/EOS are dropped when skipping special tokens; ids outside the alphabet decode as '~'.</summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) =>
        new(ids.Where(i => !skipSpecialTokens || (i != Bos && i != Eos))
            .Select(i => i >= 3 && i - 3 < Alphabet.Length ? Alphabet[i - 3] : '~').ToArray());

    public int? BosId => Bos;
    public int? EosId => Eos;
    public int? PadId => null;
    public int VocabSize => Alphabet.Length + 3;
}
