using ShareLoRA.Model.Adapters;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Tests.Adapters;

/// <summary>
/// A stand-in for the Llama stack: L layers, each with frozen random maps q (4->4), v (4->3), gate (4->6), down (6->4)
/// adapted through <see cref="IModelAdapters"/>, mixed nonlinearly so every adapter tensor influences the loss.
/// </summary>
internal sealed class ToyDecoderStack : IDisposable
{
    public const int Hidden = 4, KvDim = 3, Ffn = 6;

    public static readonly IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> Dims = new Dictionary<TargetModule, (int, int)>
    {
        [TargetModule.Q] = (Hidden, Hidden),
        [TargetModule.V] = (Hidden, KvDim),
        [TargetModule.Gate] = (Hidden, Ffn),
        [TargetModule.Down] = (Ffn, Hidden),
    };

    public static readonly IReadOnlyList<TargetModule> Targets = [TargetModule.Q, TargetModule.V, TargetModule.Gate, TargetModule.Down];

    public static readonly string[] Methods = ["lora", "share-a", "share-b", "share-ab", "custom-qv-a"];

    /// <summary>Toy layout for a method name; "custom-qv-a" shares A for q and v only (the paper's attention-only variant).</summary>
    public static AdapterLayout Layout(string method, int numLayers = 3, int rank = 2, double alpha = 3, double dropout = 0.25) =>
        method == "custom-qv-a"
            ? new AdapterLayout(numLayers, Dims, Targets, new HashSet<TargetModule> { TargetModule.Q, TargetModule.V }, new HashSet<TargetModule>(), rank, alpha, dropout)
            : AdapterLayout.ForMethod(method, numLayers, Dims, Targets, rank, alpha, dropout);

    private readonly List<Dictionary<TargetModule, Tensor>> _weights = [];
    public Tensor Readout { get; }
    public ScalarType DType { get; }
    public int NumLayers => _weights.Count;

    public ToyDecoderStack(int numLayers, long seed, ScalarType dtype)
    {
        DType = dtype;
        using var g = new Generator((ulong)seed, CPU);
        for (int l = 0; l < numLayers; l++)
        {
            var w = new Dictionary<TargetModule, Tensor>();
            foreach (var m in Targets)
                w[m] = randn([Dims[m].DOut, Dims[m].DIn], ScalarType.Float64, CPU, false, g).mul_(0.5).to_type(dtype);
            _weights.Add(w);
        }
        Readout = randn([Hidden], ScalarType.Float64, CPU, false, g).to_type(dtype);
    }

    public Tensor Weight(int layer, TargetModule m) => _weights[layer][m];

    private Tensor Linear(int layer, TargetModule m, Tensor x, ILayerAdapter? adapter)
    {
        var y = nn.functional.linear(x, _weights[layer][m]);
        var delta = adapter?.Delta(m, x);
        return delta is null ? y : y + delta;
    }

    /// <summary>Runs layers [first, end) on h [b, s, 4].</summary>
    public Tensor Forward(Tensor h, IModelAdapters? adapters, int first = 0, int? end = null)
    {
        using var scope = NewDisposeScope();
        for (int l = first; l < (end ?? NumLayers); l++)
        {
            var a = adapters?.ForLayer(l);
            var q = Linear(l, TargetModule.Q, h, a);
            var v = Linear(l, TargetModule.V, h, a);
            var g = Linear(l, TargetModule.Gate, h, a).tanh();
            var d = Linear(l, TargetModule.Down, g, a);
            h = h + q.tanh().mul(0.5) + d + v.sum(-1, keepdim: true).mul(0.1);
        }
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Scalar loss: sum(h_L * readout).</summary>
    public Tensor Loss(Tensor x, IModelAdapters? adapters)
    {
        using var scope = NewDisposeScope();
        return Forward(x, adapters).mul(Readout).sum().MoveToOuterDisposeScope();
    }

    public Tensor Input(long seed, int batch = 2, int seq = 3)
    {
        using var g = new Generator((ulong)seed, CPU);
        return randn([batch, seq, Hidden], ScalarType.Float64, CPU, false, g).to_type(DType);
    }

    /// <summary>Gives every adapter tensor (B included) random values, so gradients and deltas are non-trivial.</summary>
    public static void Randomize(AdapterBank bank, long seed)
    {
        using var g = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach (var p in bank.Parameters)
        {
            using var r = randn(p.Value.shape, ScalarType.Float64, CPU, false, g);
            p.Value.copy_(r.mul_(0.5));
        }
    }

    public void Dispose()
    {
        foreach (var w in _weights) foreach (var t in w.Values) t.Dispose();
        Readout.Dispose();
    }
}
