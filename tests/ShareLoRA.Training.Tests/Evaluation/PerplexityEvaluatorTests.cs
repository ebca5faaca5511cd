using ShareLoRA.Training.Data;
using ShareLoRA.Training.Evaluation;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Evaluation;

public class PerplexityEvaluatorTests
{
    private static readonly AlphabetTokenizer Tokenizer = new();

    // Sum over the sequence's target positions of -log_softmax(logits[i])[ids[i+1]], one sequence at a time, in float64.
    private static (double Sum, int Count) DirectNll(ShareLoRA.Model.Llama.LlamaModel model, TokenizedExample example)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(example.InputIds.Select(x => (long)x).ToArray()).view(1, -1);
        var logProbs = model.Forward(ids)[0].to(ScalarType.Float64).log_softmax(-1);
        double sum = 0;
        int count = 0;
        for (int i = 0; i + 1 < example.Length; i++)
        {
            if (example.Labels[i + 1] == TokenizedExample.IgnoreIndex) continue;
            sum -= logProbs[i, example.InputIds[i + 1]].item<double>();
            count++;
        }
        return (sum, count);
    }

    [Fact]
    public void Text_perplexity_is_exp_of_the_token_weighted_mean_nll()
    {
        using var model = TinyModel.Create();
        RawExample[] records = [new TextExample("Hello there", "f:1"), new TextExample("ab", "f:2"), new TextExample("A longer line of text", "f:3")];
        var examples = PerplexityEvaluator.Tokenize(Tokenizer, records, maxLength: 64, out int truncated);
        Assert.Equal(0, truncated);
        var result = PerplexityEvaluator.Evaluate(model, examples, batchSize: 2, padId: 0);

        var direct = examples.Select(e => DirectNll(model, e)).ToArray();
        double nll = direct.Sum(d => d.Sum) / direct.Sum(d => d.Count);
        Assert.Equal(direct.Sum(d => d.Count), result.Tokens);
        Assert.Equal(12 + 3 + 22, result.Tokens); // BOS + text + EOS: each sequence predicts its length - 1 tokens
        Assert.Equal(nll, result.Nll, 4);
        Assert.Equal(1.0, result.Perplexity / Math.Exp(nll), 6); // relative: the random model's perplexity is in the thousands
        Assert.Equal(3, result.Sequences);
    }

    [Fact]
    public void Alpaca_scores_only_the_target_tokens()
    {
        using var model = TinyModel.Create();
        RawExample[] records = [new AlpacaExample("Add", "1 2", "3", "f:1"), new AlpacaExample("Say hi", "", "hi there", "f:2")];
        var examples = PerplexityEvaluator.Tokenize(Tokenizer, records, maxLength: 1024, out _);
        var result = PerplexityEvaluator.Evaluate(model, examples, batchSize: 2, padId: 0);
        Assert.Equal((1 + 1) + (8 + 1), result.Tokens); // output + EOS of each record
        var direct = examples.Select(e => DirectNll(model, e)).ToArray();
        Assert.Equal(direct.Sum(d => d.Sum) / direct.Sum(d => d.Count), result.Nll, 4);
    }

    [Fact]
    public void Batch_size_does_not_change_the_result()
    {
        using var model = TinyModel.Create();
        RawExample[] records = [new TextExample("one", "f:1"), new TextExample("two words", "f:2"), new TextExample("x", "f:3")];
        var examples = PerplexityEvaluator.Tokenize(Tokenizer, records, 64, out _);
        var one = PerplexityEvaluator.Evaluate(model, examples, batchSize: 1);
        var three = PerplexityEvaluator.Evaluate(model, examples, batchSize: 3);
        Assert.Equal(one.Tokens, three.Tokens);
        Assert.Equal(one.Nll, three.Nll, 5);
    }

    [Fact]
    public void Max_length_truncates_text_and_counts_it()
    {
        var examples = PerplexityEvaluator.Tokenize(Tokenizer, [new TextExample("abcdefghij", "f:1")], maxLength: 5, out int truncated);
        Assert.Equal(1, truncated);
        Assert.Equal(5, examples[0].Length);
    }
}
