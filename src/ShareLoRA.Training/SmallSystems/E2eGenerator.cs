using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Tasks.E2e;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>One output line per E2E instance: beam search from the linearised MR's query, decoded and stripped.</summary>
public static class E2eGenerator
{
    public static IReadOnlyList<string> Generate(Gpt2Model model, IModelAdapters? adapters, ITextTokenizer tokenizer,
        IReadOnlyList<E2eInstance> instances, BeamSearchOptions options, Action<int, string>? progress = null)
    {
        int eos = tokenizer.EosId ?? model.Config.EosTokenId ?? throw new ArgumentException("GPT-2 tokenizer has no end-of-text token");
        var encoder = new E2eSequenceEncoder(tokenizer, eos);
        if (adapters is AdapterBank bank) bank.Context = AdapterForwardContext.Eval;
        var outputs = new List<string>();
        using var beamModel = new Gpt2BeamModel(model, adapters);
        var budget = options with { MaxNewTokens = Math.Min(options.MaxNewTokens, model.Config.MaxPositions), StopTokens = options.StopTokens ?? [eos] };
        foreach (var instance in instances)
        {
            // A CSV instance holds the raw MR; LoRA's processed text already holds the linearised context.
            var context = instance.Mr.Contains('[') ? E2eMeaningRepresentation.Linearize(instance.Mr, $"MR at line {instance.Line}") : instance.Mr;
            var query = encoder.Query(context);
            var limited = budget with { MaxNewTokens = Math.Max(1, Math.Min(budget.MaxNewTokens, model.Config.MaxPositions - query.Length)) };
            var result = BeamSearch.Run(beamModel, query, limited);
            var text = encoder.Decode(result.Tokens);
            outputs.Add(text);
            progress?.Invoke(outputs.Count, text);
        }
        return outputs;
    }
}
