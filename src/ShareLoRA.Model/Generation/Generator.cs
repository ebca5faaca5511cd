using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Generation;

/// <summary>Autoregressive continuation of one prompt (batch 1), with or without a KV cache.</summary>
public static class Generator
{
    /// <summary>Returns the generated token ids only (not the prompt).</summary>
    public static IReadOnlyList<int> Generate(LlamaModel model, IReadOnlyList<int> promptIds, GenerationOptions options, IModelAdapters? adapters = null)
    {
        if (!model.HasEmbedding || !model.HasHead || model.FirstLayer != 0 || model.EndLayer != model.Config.NumHiddenLayers)
            throw new ArgumentException("generation needs the whole model (embedding, all layers, head)");
        if (promptIds.Count == 0) throw new ArgumentException("the prompt must hold at least one token (e.g. BOS)");
        if (options.MaxNewTokens < 0) throw new ArgumentException($"max new tokens must be >= 0 (got {options.MaxNewTokens})");
        foreach (var id in promptIds)
            if (id < 0 || id >= model.Config.VocabSize)
                throw new ArgumentException($"prompt token id {id} is outside the vocabulary [0, {model.Config.VocabSize})");

        var sampler = new TokenSampler(options.Temperature, options.TopP, options.Seed);
        var stop = new HashSet<int>(options.StopTokenIds ?? []);
        var all = new List<int>(promptIds);
        var generated = new List<int>();
        using var noGrad = no_grad();
        using var cache = options.UseKvCache ? new KvCache(promptIds.Count + options.MaxNewTokens) : null;

        while (generated.Count < options.MaxNewTokens)
        {
            using var scope = NewDisposeScope();
            // With a cache, feed only the tokens the cache has not seen yet; without, the whole sequence again.
            int start = cache?.CurrentLength ?? 0;
            var input = all.Skip(start).Select(i => (long)i).ToArray();
            var ids = tensor(input, device: model.Device).view(1, input.Length);       // [1, s]
            var logits = model.Forward(ids, start, cache, adapters);                      // [1, s, vocab]
            var last = logits[0, -1].to(ScalarType.Float32).cpu().contiguous();           // [vocab]
            int next = sampler.Next(last.data<float>().ToArray());
            generated.Add(next);
            all.Add(next);
            if (stop.Contains(next)) break;
        }
        return generated;
    }
}
