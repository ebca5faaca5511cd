using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>GPT-2 (with optional adapters) behind <see cref="IBeamLanguageModel"/>: the query once, then one token per beam per step through the KV cache.</summary>
public sealed class Gpt2BeamModel(Gpt2Model model, IModelAdapters? adapters = null) : IBeamLanguageModel, IDisposable
{
    private KvCache? _cache;
    private int _position;

    public Tensor Start(IReadOnlyList<int> query)
    {
        if (query.Count == 0) throw new ArgumentException("beam search needs a non-empty query");
        _cache?.Dispose();
        _cache = new KvCache();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = tensor(query.Select(t => (long)t).ToArray()).view(1, -1);
        var logits = model.Forward(ids, 0, _cache, adapters);
        _position = query.Count;
        return logits[0, -1].MoveToOuterDisposeScope();
    }

    public Tensor Next(IReadOnlyList<int> sourceRows, IReadOnlyList<int> tokens)
    {
        if (_cache is null) throw new InvalidOperationException("Start must be called first");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        _cache.Reorder(tensor(sourceRows.Select(r => (long)r).ToArray()));
        var ids = tensor(tokens.Select(t => (long)t).ToArray()).view(-1, 1);
        var logits = model.Forward(ids, _position, _cache, adapters);
        _position++;
        return logits.select(1, -1).MoveToOuterDisposeScope();
    }

    public void Dispose() => _cache?.Dispose();
}
