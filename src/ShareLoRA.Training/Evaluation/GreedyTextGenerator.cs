using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using static TorchSharp.torch;

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
        IReadOnlyList<string> stopStrings, IReadOnlyCollection<int> stopIds, IModelAdapters? adapters = null)
    {
        if (promptIds.Count == 0) throw new ArgumentException("the prompt must hold at least one token");
        ArgumentOutOfRangeException.ThrowIfNegative(maxNewTokens);
        var generated = new List<int>();
        using var noGrad = no_grad();
        using var cache = new KvCache(promptIds.Count + maxNewTokens);
        IReadOnlyList<int> feed = promptIds;
        string text = "";
        while (generated.Count < maxNewTokens)
        {
            using var scope = NewDisposeScope();
            int start = cache.CurrentLength;
            var ids = tensor(feed.Select(i => (long)i).ToArray(), device: model.Device).view(1, feed.Count); // [1, s]
            var logits = model.Forward(ids, start, cache, adapters);                                        // [1, s, vocab]
            var last = logits[0, -1].to(ScalarType.Float32).cpu().contiguous();
            int next = (int)last.argmax().item<long>();
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
