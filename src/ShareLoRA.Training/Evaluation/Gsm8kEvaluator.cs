using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// GSM8K exact match: for each problem, BOS + <see cref="Gsm8kPrompt"/> (cut from the left so that prompt plus
/// <c>maxNewTokens</c> fit the model's positions), greedy generation until "\n\nQuestion:", EOS or the token limit,
/// then <see cref="Gsm8kAnswer.Extract"/> compared with the gold number after "####".
/// </summary>
public sealed class Gsm8kEvaluator(IEvaluationModel model, ITextTokenizer tokenizer)
{
    /// <summary>On a whole model in this process.</summary>
    public Gsm8kEvaluator(LlamaModel model, ITextTokenizer tokenizer, IModelAdapters? adapters = null)
        : this(new LocalEvaluationModel(model, adapters), tokenizer) { }

    public Gsm8kReport Evaluate(IReadOnlyList<Gsm8kProblem> problems, IReadOnlyList<Gsm8kProblem> shots, int maxNewTokens,
        Action<Gsm8kPrediction>? onPrediction = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxNewTokens);
        int room = model.Config.MaxPositionEmbeddings - maxNewTokens;
        if (room < 2)
            throw new ArgumentException($"max new tokens {maxNewTokens} leaves no room for a prompt in the model's {model.Config.MaxPositionEmbeddings} positions");
        var stopIds = new HashSet<int>(model.Config.EosTokenIds);
        if (tokenizer.EosId is int eos) stopIds.Add(eos);
        int correct = 0;
        for (int i = 0; i < problems.Count; i++)
        {
            var problem = problems[i];
            string gold;
            try { gold = Gsm8kAnswer.Gold(problem.Answer); }
            catch (FormatException e) { throw new DatasetException($"{problem.Origin}: {e.Message}"); }
            var prompt = PromptIds.Build(tokenizer, Gsm8kPrompt.Build(shots, problem.Question), room, out bool truncated);
            var completion = GreedyTextGenerator.Generate(model, tokenizer, prompt, maxNewTokens, [Gsm8kPrompt.StopString], stopIds);
            var predicted = Gsm8kAnswer.Extract(completion.Text);
            bool ok = predicted == gold;
            if (ok) correct++;
            onPrediction?.Invoke(new Gsm8kPrediction(i, completion.Text, predicted, gold, ok, completion.StopReason, truncated));
        }
        return new Gsm8kReport(correct, problems.Count, shots.Count);
    }
}
