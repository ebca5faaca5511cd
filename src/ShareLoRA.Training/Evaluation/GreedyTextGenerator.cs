using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Greedy decoding (first maximum wins) with a KV cache that stops at EOS or as soon as the decoded continuation
/// contains a stop string — which the model layer's Generator, working on ids only, cannot see.
/// </summary>
public static class GreedyTextGenerator
{
    public const string StopStringReason = "stop-string";
    public const string EosReason = "eos";
    public const string LengthReason = "length";

    public static TextCompletion Generate(LlamaModel model, ITextTokenizer tokenizer, IReadOnlyList<int> promptIds, int maxNewTokens,
        IReadOnlyList<string> stopStrings, IReadOnlyCollection<int> stopIds, IModelAdapters? adapters = null) =>
        Generate(new LocalEvaluationModel(model, adapters), tokenizer, promptIds, maxNewTokens, stopStrings, stopIds);

    /// <summary>The same on any <see cref="IEvaluationModel"/>: one decoder step per new token.</summary>
    public static TextCompletion Generate(IEvaluationModel model, ITextTokenizer tokenizer, IReadOnlyList<int> promptIds, int maxNewTokens,
        IReadOnlyList<string> stopStrings, IReadOnlyCollection<int> stopIds)
    {
        if (promptIds.Count == 0) throw new ArgumentException("the prompt must hold at least one token");
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        var generated = new List<int>();
        using var decoder = model.StartDecoding(promptIds.Count + maxNewTokens);
        IReadOnlyList<int> feed = promptIds;
        string text = "";
        while (generated.Count < maxNewTokens)
        {
            int next = decoder.Next(feed);
            if (stopIds.Contains(next)) return new TextCompletion(generated, tokenizer.Decode(generated), EosReason);
            generated.Add(next);
            feed = [next];
            text = tokenizer.Decode(generated);
            foreach (var stop in stopStrings)
            {
                int at = text.IndexOf(stop, StringComparison.Ordinal);
                if (at >= 0) return new TextCompletion(generated, text[..at], StopStringReason);
            }
        }
        return new TextCompletion(generated, text, LengthReason);
    }
}
