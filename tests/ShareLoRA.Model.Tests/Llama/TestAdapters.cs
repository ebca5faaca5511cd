using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Tests.Llama;

/// <summary>An adapter per layer that adds x·Dᵀ for a fixed dense D per module (what a merged LoRA update does).</summary>
public sealed class DenseDeltaAdapters : IModelAdapters, IDisposable
{
    private readonly Dictionary<int, Layer> _layers = new();
    public Dictionary<string, Tensor> DeltasByWeightName { get; } = new();

    public DenseDeltaAdapters(Model.Config.LlamaConfig c, IEnumerable<int> layers, IEnumerable<TargetModule> modules, long seed)
    {
        var gen = new Generator((ulong)seed, CPU);
        foreach (var l in layers)
        {
            var layer = new Layer();
            foreach (var m in modules)
            {
                var (dOut, dIn) = Shape(c, m);
                var d = (randn([dOut, dIn], generator: gen) * 0.05).DetachFromDisposeScope();
                layer.Deltas[m] = d;
                DeltasByWeightName[HfKeys.Weight(l, m)] = d;
            }
            _layers[l] = layer;
        }
    }

    public static (long, long) Shape(Model.Config.LlamaConfig c, TargetModule m)
    {
        long h = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim, f = c.IntermediateSize;
        return m switch
        {
            TargetModule.Q => (q, h), TargetModule.K => (kv, h), TargetModule.V => (kv, h), TargetModule.O => (h, q),
            TargetModule.Gate => (f, h), TargetModule.Up => (f, h), _ => (h, f),
        };
    }

    public ILayerAdapter? ForLayer(int layerIndex) => _layers.GetValueOrDefault(layerIndex);

    private sealed class Layer : ILayerAdapter
    {
        public Dictionary<TargetModule, Tensor> Deltas { get; } = new();
        public Tensor? Delta(TargetModule module, Tensor input) =>
            Deltas.TryGetValue(module, out var d) ? linear(input, d) : null;
    }

    public void Dispose()
    {
        foreach (var t in DeltasByWeightName.Values) t.Dispose();
    }
}
