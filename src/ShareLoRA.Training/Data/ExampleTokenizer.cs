using ShareLoRA.Model.Tokenization;

namespace ShareLoRA.Training.Data;

/// <summary>
/// Turns records into token sequences as QLoRA does. Alpaca: source = BOS + prompt (tokenized with the tokenizer's
/// special tokens; BOS is prepended if its post-processor did not) cut to <c>sourceMaxLen</c>; target = output tokens
/// (no specials) + EOS cut to <c>targetMaxLen</c> (a long output loses its EOS, as in QLoRA); labels -100 on the source
/// unless <c>trainOnSource</c>. Text: BOS + text + EOS cut to <c>sourceMaxLen + targetMaxLen</c>, all of it target.
/// Truncation keeps the first tokens.
/// </summary>
public sealed class ExampleTokenizer
{
    private readonly ITextTokenizer _tokenizer;
    private readonly int _sourceMaxLen;
    private readonly int _targetMaxLen;
    private readonly bool _trainOnSource;
    private readonly int _eosId;

    public ExampleTokenizer(ITextTokenizer tokenizer, int sourceMaxLen, int targetMaxLen, bool trainOnSource)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sourceMaxLen);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetMaxLen);
        _tokenizer = tokenizer;
        _sourceMaxLen = sourceMaxLen;
        _targetMaxLen = targetMaxLen;
        _trainOnSource = trainOnSource;
        _eosId = tokenizer.EosId
            ?? throw new DatasetException("the tokenizer defines no EOS token; training targets end with EOS (check tokenizer.json)");
    }

    /// <summary>Tokenizes one record; <paramref name="truncated"/> tells whether any tokens were cut.</summary>
    public TokenizedExample Tokenize(RawExample example, out bool truncated) => example switch
    {
        AlpacaExample a => TokenizeAlpaca(a, out truncated),
        TextExample t => TokenizeText(t, out truncated),
        _ => throw new ArgumentException("unknown record type " + example.GetType().Name, nameof(example)),
    };

    public TokenizedExample Tokenize(RawExample example) => Tokenize(example, out _);

    private TokenizedExample TokenizeAlpaca(AlpacaExample example, out bool truncated)
    {
        var source = WithBos(_tokenizer.Encode(AlpacaPrompt.Format(example.Instruction, example.Input), addSpecialTokens: true));
        var target = new List<int>(_tokenizer.Encode(example.Output, addSpecialTokens: false)) { _eosId };
        truncated = source.Count > _sourceMaxLen || target.Count > _targetMaxLen;
        var sourceLength = Math.Min(source.Count, _sourceMaxLen);
        var targetLength = Math.Min(target.Count, _targetMaxLen);

        var ids = new int[sourceLength + targetLength];
        var labels = new int[ids.Length];
        for (var i = 0; i < sourceLength; i++)
        {
            ids[i] = source[i];
            labels[i] = _trainOnSource ? source[i] : TokenizedExample.IgnoreIndex;
        }
        for (var i = 0; i < targetLength; i++)
            ids[sourceLength + i] = labels[sourceLength + i] = target[i];
        return new TokenizedExample(ids, labels);
    }

    private TokenizedExample TokenizeText(TextExample example, out bool truncated)
    {
        var tokens = new List<int>(WithBos(_tokenizer.Encode(example.Text, addSpecialTokens: true))) { _eosId };
        var maxLength = _sourceMaxLen + _targetMaxLen;
        truncated = tokens.Count > maxLength;
        var ids = tokens.Take(maxLength).ToArray();
        return new TokenizedExample(ids, (int[])ids.Clone());
    }

    // Source = BOS + prompt whatever the tokenizer's post-processor does (some tokenizer.json files add no BOS).
    private IReadOnlyList<int> WithBos(IReadOnlyList<int> ids)
    {
        if (_tokenizer.BosId is not int bos || (ids.Count > 0 && ids[0] == bos)) return ids;
        var withBos = new List<int>(ids.Count + 1) { bos };
        withBos.AddRange(ids);
        return withBos;
    }
}
