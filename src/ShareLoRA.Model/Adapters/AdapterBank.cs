using ShareLoRA.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// The one owner of all adapter tensors of a model (or of a pipeline stage's layer range): per module type either
/// one shared A [r, d_in] or one A per layer, and either one shared B [d_out, r] or one B per layer. Shared tensors
/// live here once and are passed to every layer at forward time; they are never registered in any Module.
/// </summary>
/// <remarks>
/// Initialization (ShareLoRA reference code): every A is kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(d_in),
/// 1/sqrt(d_in)); every B is zero; a shared matrix is what layer 0 would have drawn. Draw order: each
/// (module, layer) A is drawn alone, in float32 on the CPU, from a torch.Generator seeded with
/// <see cref="DropoutSeed.ForInit"/>(seed, module, layer, 'A'), as one uniform_ over the [r, d_in] tensor in
/// row-major order. Hence a value never depends on which other tensors a bank holds: a stage bank for layers
/// [a, b) equals that slice of the full bank, and the shared A equals layer 0's draw, bit for bit.
/// </remarks>
public sealed class AdapterBank : IModelAdapters, IDisposable
{
    private readonly Dictionary<TargetModule, Tensor> _sharedA = [];
    private readonly Dictionary<TargetModule, Tensor> _sharedB = [];
    private readonly Dictionary<(int Layer, TargetModule Module), Tensor> _layerA = [];
    private readonly Dictionary<(int Layer, TargetModule Module), Tensor> _layerB = [];
    private readonly Dictionary<string, AdapterParameter> _byName = [];
    private readonly List<AdapterParameter> _parameters = [];
    private readonly Dictionary<int, LayerView> _views = [];
    private bool _disposed;

    public AdapterLayout Layout { get; }

    /// <summary>Run seed: initial draws and dropout masks derive from it.</summary>
    public long Seed { get; }

    /// <summary>First global layer whose per-layer tensors this bank holds.</summary>
    public int FirstLayer { get; }

    /// <summary>One past the last global layer this bank holds.</summary>
    public int EndLayer { get; }

    public ScalarType DType { get; }
    public Device Device { get; }

    /// <summary>Set before each forward: selects the dropout masks (step, micro-batch) and train/eval mode.</summary>
    public AdapterForwardContext Context { get; set; } = AdapterForwardContext.Eval;

    /// <summary>Every trainable tensor exactly once: shared ones first (targets in canonical order, A then B), then per layer.</summary>
    public IReadOnlyList<AdapterParameter> Parameters => _parameters;

    private AdapterBank(AdapterLayout layout, long seed, int firstLayer, int endLayer, ScalarType dtype, Device device)
    {
        Layout = layout;
        Seed = seed;
        FirstLayer = firstLayer;
        EndLayer = endLayer;
        DType = dtype;
        Device = device;
    }

    /// <summary>
    /// Creates and initializes a bank. <paramref name="firstLayer"/>/<paramref name="endLayer"/> select a pipeline
    /// stage's layers [first, end); shared tensors are always held. <paramref name="dtype"/> is float32 (master
    /// weights) except in tests (float64 for gradient checks).
    /// </summary>
    public static AdapterBank Create(AdapterLayout layout, long seed, int firstLayer = 0, int? endLayer = null,
        ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        layout.Validate();
        int end = endLayer ?? layout.NumLayers;
        if (firstLayer < 0 || end > layout.NumLayers || firstLayer >= end)
            throw new ArgumentOutOfRangeException(nameof(firstLayer),
                $"adapter bank: layer range [{firstLayer}, {end}) must be non-empty and inside [0, {layout.NumLayers})");
        if (dtype is not (ScalarType.Float32 or ScalarType.Float64))
            throw new ArgumentException($"adapter bank: dtype must be Float32 or Float64 (master weights), got {dtype}");

        var bank = new AdapterBank(layout, seed, firstLayer, end, dtype, device ?? CPU);
        var targets = layout.OrderedTargets;
        foreach (var m in targets)
        {
            if (layout.IsSharedA(m)) bank.Add(AdapterParameter.SharedName(m, 'A'), bank.DrawA(m, 0), true, m, null, 'A');
            if (layout.IsSharedB(m)) bank.Add(AdapterParameter.SharedName(m, 'B'), bank.ZeroB(m), true, m, null, 'B');
        }
        for (int l = firstLayer; l < end; l++)
        {
            foreach (var m in targets)
            {
                if (!layout.IsSharedA(m)) bank.Add(AdapterParameter.LayerName(l, m, 'A'), bank.DrawA(m, l), false, m, l, 'A');
                if (!layout.IsSharedB(m)) bank.Add(AdapterParameter.LayerName(l, m, 'B'), bank.ZeroB(m), false, m, l, 'B');
            }
        }
        return bank;
    }

    // Bank tensors are detached from any caller's dispose scope: the bank owns them until Dispose.
    private Tensor DrawA(TargetModule m, int layer)
    {
        var (dIn, _) = Layout.Dims[m];
        var bound = 1.0 / Math.Sqrt(dIn); // kaiming_uniform_(a = sqrt(5)): gain sqrt(1/3) * sqrt(3 / fan_in)
        using var generator = new Generator(DropoutSeed.ForGenerator(DropoutSeed.ForInit(Seed, m, layer, 'A')), CPU);
        using var scope = NewDisposeScope();
        var draw = empty([Layout.Rank, dIn], ScalarType.Float32, CPU);
        using (no_grad()) draw.uniform_(-bound, bound, generator);
        return draw.to(DType, Device).detach().requires_grad_(true).DetachFromDisposeScope();
    }

    private Tensor ZeroB(TargetModule m)
    {
        var (_, dOut) = Layout.Dims[m];
        return zeros([dOut, Layout.Rank], DType, Device).requires_grad_(true).DetachFromDisposeScope();
    }

    private void Add(string name, Tensor value, bool shared, TargetModule m, int? layer, char matrix)
    {
        var p = new AdapterParameter(name, value, shared, m, layer, matrix);
        _parameters.Add(p);
        _byName.Add(name, p);
        var target = (shared, matrix) switch
        {
            (true, 'A') => (IDictionary<TargetModule, Tensor>?)_sharedA,
            (true, _) => _sharedB,
            _ => null,
        };
        if (target is not null) target[m] = value;
        else if (matrix == 'A') _layerA[(layer!.Value, m)] = value;
        else _layerB[(layer!.Value, m)] = value;
    }

    /// <summary>The parameter of that name, or null.</summary>
    public AdapterParameter? Find(string name) => _byName.GetValueOrDefault(name);

    public bool HoldsLayer(int layer) => layer >= FirstLayer && layer < EndLayer;

    /// <summary>The A that <paramref name="layer"/> uses for <paramref name="m"/> (the shared tensor when A is shared).</summary>
    public Tensor A(TargetModule m, int layer)
    {
        CheckUse(m, layer);
        return Layout.IsSharedA(m) ? _sharedA[m] : _layerA[(layer, m)];
    }

    /// <summary>The B that <paramref name="layer"/> uses for <paramref name="m"/> (the shared tensor when B is shared).</summary>
    public Tensor B(TargetModule m, int layer)
    {
        CheckUse(m, layer);
        return Layout.IsSharedB(m) ? _sharedB[m] : _layerB[(layer, m)];
    }

    private void CheckUse(TargetModule m, int layer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Layout.IsTarget(m)) throw new ArgumentException($"adapter bank: module {m.ShortName()} is not a target");
        if (!HoldsLayer(layer))
            throw new ArgumentOutOfRangeException(nameof(layer), $"adapter bank: layer {layer} is outside this bank's range [{FirstLayer}, {EndLayer})");
    }

    /// <summary>The adapter of one global layer; throws for a layer outside this bank's range (a wiring bug, not "no adapter").</summary>
    public ILayerAdapter? ForLayer(int layerIndex)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!HoldsLayer(layerIndex))
            throw new ArgumentOutOfRangeException(nameof(layerIndex), $"adapter bank: layer {layerIndex} is outside this bank's range [{FirstLayer}, {EndLayer})");
        if (!_views.TryGetValue(layerIndex, out var view)) _views[layerIndex] = view = new LayerView(this, layerIndex);
        return view;
    }

    /// <summary>
    /// s * (drop(x) A^T) B^T for one layer and module, or null when the module is not a target. Computed in the
    /// bank's dtype (fp32 master weights); the result has the input's dtype. Dropout (only on this branch's input)
    /// follows <see cref="Context"/>.
    /// </summary>
    public Tensor? Delta(int layer, TargetModule module, Tensor input)
    {
        if (!Layout.IsTarget(module)) return null;
        var a = A(module, layer);
        var b = B(module, layer);
        using var scope = NewDisposeScope();
        var x = input.dtype == DType ? input : input.to_type(DType);
        var dropped = AdapterDropout.Apply(x, Seed, Context, layer, module, Layout.Dropout);
        var down = nn.functional.linear(dropped, a);     // [..., d_in] -> [..., r]
        var up = nn.functional.linear(down, b);          // [..., r] -> [..., d_out]
        using var scale = Layout.Scale.ToScalar();      // explicit Scalar kept alive: see AdapterDropout.KeepMask
        var delta = up.mul(scale);
        if (delta.dtype != input.dtype) delta = delta.to_type(input.dtype);
        return delta.MoveToOuterDisposeScope();
    }

    /// <summary>W0 + s B A for merging the adapter into a frozen [d_out, d_in] weight; result in W0's dtype, no grad.</summary>
    public Tensor MergedWeight(TargetModule m, int layer, Tensor w0)
    {
        var a = A(m, layer);
        var b = B(m, layer);
        var (dIn, dOut) = Layout.Dims[m];
        if (w0.ndim != 2 || w0.shape[0] != dOut || w0.shape[1] != dIn)
            throw new ArgumentException($"merge: weight of {m.ShortName()} in layer {layer} must be [{dOut}, {dIn}] (got [{string.Join(", ", w0.shape)}])");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var scale = Layout.Scale.ToScalar();
        var update = matmul(b, a).mul_(scale);    // [d_out, r] @ [r, d_in]
        var merged = w0.to_type(DType).AddTensor(update).to_type(w0.dtype);
        return merged.MoveToOuterDisposeScope();
    }

    /// <summary>Clears the gradients of every parameter (sets them to zero in place where they exist).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            using var g = p.Value.grad;
            g?.zero_();
        }
    }

    /// <summary>
    /// Copies values into this bank's parameters by name. Every parameter of this bank must be present; names this bank
    /// does not hold (other stages' layers) are ignored only when <paramref name="ignoreOthers"/> is true.
    /// </summary>
    public void LoadValues(IReadOnlyDictionary<string, Tensor> values, bool ignoreOthers = false, string source = "adapter values")
    {
        if (!ignoreOthers)
            foreach (var name in values.Keys)
                if (!_byName.ContainsKey(name))
                    throw new ArgumentException($"{source}: tensor '{name}' does not belong to this adapter layout");
        using var noGrad = no_grad();
        foreach (var p in _parameters)
        {
            if (!values.TryGetValue(p.Name, out var v))
                throw new ArgumentException($"{source}: missing tensor '{p.Name}'");
            if (!v.shape.SequenceEqual(p.Value.shape))
                throw new ArgumentException($"{source}: tensor '{p.Name}' must be [{string.Join(", ", p.Value.shape)}] (got [{string.Join(", ", v.shape)}])");
            p.Value.copy_(v);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var p in _parameters) p.Value.Dispose();
    }

    /// <summary>The per-layer face the model sees; holds no tensors of its own.</summary>
    private sealed class LayerView(AdapterBank bank, int layer) : ILayerAdapter
    {
        public Tensor? Delta(TargetModule module, Tensor input) => bank.Delta(layer, module, input);
    }
}
