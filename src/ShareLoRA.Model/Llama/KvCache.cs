using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>
/// Keys and values of past positions per decoder layer (after RoPE, before repeating kv heads), for incremental
/// decoding. Inference only: appends run without autograd. Buffers grow by doubling and are owned by the cache.
/// </summary>
public sealed class KvCache : IDisposable
{
    private sealed class LayerState
    {
        public Tensor? K, V;   // [b, kv_heads, capacity, d]
        public int Length;
    }

    private readonly Dictionary<int, LayerState> _layers = new();
    private readonly int _initialCapacity;

    /// <param name="initialCapacity">Positions to allocate at the first append (e.g. prompt + max new tokens).</param>
    public KvCache(int initialCapacity = 0)
    {
        _initialCapacity = initialCapacity;
    }

    /// <summary>Positions cached for <paramref name="layer"/> (global index).</summary>
    public int Length(int layer) => _layers.TryGetValue(layer, out var s) ? s.Length : 0;

    /// <summary>Positions cached for the lowest layer held (0 when empty).</summary>
    public int CurrentLength => _layers.Count == 0 ? 0 : _layers[_layers.Keys.Min()].Length;

    /// <summary>Appends k, v [b, kv_heads, s, d] for a layer; returns all cached keys and values [b, kv_heads, T, d].</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        using var noGrad = no_grad();
        if (!_layers.TryGetValue(layer, out var state))
        {
            state = new LayerState();
            _layers[layer] = state;
        }
        long s = k.shape[2];
        long needed = state.Length + s;
        if (state.K is null || state.K.shape[2] < needed || state.K.shape[0] != k.shape[0])
        {
            if (state.K is not null && state.K.shape[0] != k.shape[0])
                throw new ArgumentException($"KV cache of layer {layer} holds batch {state.K.shape[0]}, got {k.shape[0]}");
            long capacity = Math.Max(Math.Max(needed, _initialCapacity), (state.K?.shape[2] ?? 0) * 2);
            state.K = Grow(state.K, k, capacity, state.Length);
            state.V = Grow(state.V, v, capacity, state.Length);
        }
        using (var kSlot = state.K.narrow(2, state.Length, s)) kSlot.copy_(k);
        using (var vSlot = state.V!.narrow(2, state.Length, s)) vSlot.copy_(v);
        state.Length = (int)needed;
        return (state.K.narrow(2, 0, needed), state.V.narrow(2, 0, needed));
    }

    /// <summary>
    /// Replaces every layer's rows by rows <paramref name="rowIndex"/> [n] of the current ones (beam search: row j of the
    /// new cache continues old row rowIndex[j]); the batch size becomes n.
    /// </summary>
    public void Reorder(Tensor rowIndex)
    {
        using var noGrad = no_grad();
        foreach (var state in _layers.Values)
        {
            if (state.K is null) continue;
            using var index = rowIndex.to(ScalarType.Int64, state.K.device);
            var k = state.K.index_select(0, index).DetachFromDisposeScope();
            var v = state.V!.index_select(0, index).DetachFromDisposeScope();
            state.K.Dispose();
            state.V.Dispose();
            state.K = k;
            state.V = v;
        }
    }

    private static Tensor Grow(Tensor? old, Tensor like, long capacity, int filled)
    {
        var fresh = empty([like.shape[0], like.shape[1], capacity, like.shape[3]], like.dtype, like.device).DetachFromDisposeScope();
        if (old is not null)
        {
            if (filled > 0)
            {
                using var dst = fresh.narrow(2, 0, filled);
                using var src = old.narrow(2, 0, filled);
                dst.copy_(src);
            }
            old.Dispose();
        }
        return fresh;
    }

    public void Dispose()
    {
        foreach (var s in _layers.Values)
        {
            s.K?.Dispose();
            s.V?.Dispose();
        }
        _layers.Clear();
    }
}
