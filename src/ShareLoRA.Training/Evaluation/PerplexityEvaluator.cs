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
        IModelAdapters? adapters = null, int truncated = 0) =>
        Evaluate(new LocalEvaluationModel(model, adapters), examples, batchSize, padId, truncated);

    /// <summary>The same on any <see cref="IEvaluationModel"/>: one forward pass per batch of <paramref name="batchSize"/> examples.</summary>
    public static PerplexityResult Evaluate(IEvaluationModel model, IReadOnlyList<TokenizedExample> examples, int batchSize = 1, int padId = 0,
        int truncated = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        double nllSum = 0;
        long tokens = 0;
        for (int start = 0; start < examples.Count; start += batchSize)
        {
            int rows = Math.Min(batchSize, examples.Count - start);
            var batch = BatchCollator.Collate(examples, Enumerable.Range(start, rows).ToArray(), padId);
            if (batch.Columns < 2) continue; // a one-token sequence predicts nothing
            var logProbs = model.Run(EvaluationRequest.ForTargets(batch)).Values;
            var (sum, count) = NegativeSum(logProbs);
            nllSum += sum;
            tokens += count;
        }
        if (tokens == 0) throw new ArgumentException("no target tokens to score (every sequence is shorter than 2 tokens or fully masked)");
        double nll = nllSum / tokens;
        return new PerplexityResult(nll, Math.Exp(nll), tokens, examples.Count, truncated);
    }

    /// <summary>
    /// -(sum of a batch's target log-probabilities) in float64, summed by torch over the values in row-major order (the
    /// order masked_select gives), and how many there are.
    /// </summary>
    public static (double Sum, long Count) NegativeSum(IReadOnlyList<float[]> logProbs)
    {
        var values = logProbs.SelectMany(r => r).Select(v => (double)v).ToArray();
        using var all = tensor(values, ScalarType.Float64);
        return (-all.sum().item<double>(), values.Length);
    }
}
