using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Tasks.Glue;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// RoBERTa inputs of GLUE examples as Hugging Face's tokenizer builds them: &lt;s&gt; A &lt;/s&gt; for one sentence,
/// &lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt; for a pair, truncated "longest_first" (one token at a time from the
/// longer side) to the maximum length.
/// </summary>
public sealed class GlueInputEncoder(ITextTokenizer tokenizer, int maxLength)
{
    private readonly int _bos = tokenizer.BosId ?? throw new ArgumentException("tokenizer has no <s> (bos) token");
    private readonly int _eos = tokenizer.EosId ?? throw new ArgumentException("tokenizer has no </s> (eos) token");

    public int PadId { get; } = tokenizer.PadId ?? 1;

    public int[] Encode(GlueExample example)
    {
        var a = tokenizer.Encode(example.SentenceA, addSpecialTokens: false).ToList();
        if (example.SentenceB is null)
        {
            int room = Math.Max(0, maxLength - 2);
            if (a.Count > room) a.RemoveRange(room, a.Count - room);
            return [_bos, .. a, _eos];
        }
        var b = tokenizer.Encode(example.SentenceB, addSpecialTokens: false).ToList();
        int budget = Math.Max(0, maxLength - 4);
        while (a.Count + b.Count > budget)
        {
            var longer = a.Count > b.Count ? a : b;
            longer.RemoveAt(longer.Count - 1);
        }
        return [_bos, .. a, _eos, _eos, .. b, _eos];
    }
}
