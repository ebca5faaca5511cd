using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Perplexity of a data file: records tokenized as for training (<see cref="ExampleTokenizer"/>), so text records score
/// BOS + text + EOS whole and Alpaca records score only their target (output + EOS) given the prompt. The NLL is summed
/// over all target tokens and divided once by their count (token-weighted, not a mean of per-sequence means).
/// </summary>
public static class PerplexityEvaluator
{
    /// <summary>
    /// Tokenizes records for scoring. <paramref name="maxLength"/> caps a whole sequence: text records keep their first
    /// maxLength tokens; Alpaca records cap source and target at half each (maxLength 1024 = ShareLoRA's 512 + 512).
    /// </summary>
    public static IReadOnlyList<TokenizedExample> Tokenize(ITextTokenizer tokenizer, IReadOnlyList<RawExample> records, int maxLength, out int truncated)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 2);
        var text = new ExampleTokenizer(tokenizer, maxLength - 1, 1, trainOnSource: false);
        var alpaca = new ExampleTokenizer(tokenizer, maxLength / 2, maxLength - maxLength / 2, trainOnSource: false);
        truncated = 0;
        var examples = new List<TokenizedExample>(records.Count);
        foreach (var record in records)
        {
            var example = (record is TextExample ? text : alpaca).Tokenize(record, out bool cut);
            if (cut) truncated++;
            examples.Add(example);
        }
        return examples;
    }

    public static PerplexityResult Evaluate(LlamaModel model, IReadOnlyList<TokenizedExample> examples, int batchSize = 1, int padId = 0,
        IModelAdapters? adapters = null, int truncated = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        double nllSum = 0;
        long tokens = 0;
        using var noGrad = no_grad();
        for (int start = 0; start < examples.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int rows = Math.Min(batchSize, examples.Count - start);
            var batch = BatchCollator.Collate(examples, Enumerable.Range(start, rows).ToArray(), padId);
            if (batch.Columns < 2) continue; // a one-token sequence predicts nothing
            using var tensors = BatchTensors.From(batch, model.Device);
            var logits = model.Forward(tensors.InputIds, adapters: adapters, attentionMask: rows > 1 ? tensors.AttentionMask : null);
            var (sum, count) = TargetNll(logits, tensors.Labels);
            nllSum += sum;
            tokens += count;
        }
        if (tokens == 0) throw new ArgumentException("no target tokens to score (every sequence is shorter than 2 tokens or fully masked)");
        double nll = nllSum / tokens;
        return new PerplexityResult(nll, Math.Exp(nll), tokens, examples.Count, truncated);
    }

    /// <summary>
    /// Sum of -log p(label[i+1] | ..i) over positions whose next label is not -100, and how many there are.
    /// logits [b, s, vocab], labels [b, s] (unshifted, as <see cref="TokenizedExample"/>).
    /// </summary>
    public static (double Sum, long Count) TargetNll(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        long s = logits.shape[1];
        var logProbs = logits.narrow(1, 0, s - 1).to(ScalarType.Float32).log_softmax(-1);   // [b, s-1, vocab]
        var next = labels.narrow(1, 1, s - 1);                                                // [b, s-1]
        var keep = next.ne(TokenizedExample.IgnoreIndex);
        var safe = next.masked_fill(keep.logical_not(), 0).unsqueeze(-1);                     // ignored -> any valid id
        var picked = logProbs.gather(2, safe).squeeze(-1).to(ScalarType.Float64);             // [b, s-1]
        double sum = -picked.masked_select(keep).sum().item<double>();
        long count = keep.sum().item<long>();
        return (sum, count);
    }
}
