using ShareLoRA.Model.Config;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// Shape and sharing of a LoRA-family adapter set: which module types are adapted, their dimensions, and for
/// each module type whether A (and/or B) is one tensor shared by every layer or one tensor per layer.
/// lora = nothing shared; share-a = A shared for every target; share-b = B shared; share-ab = both.
/// </summary>
/// <param name="NumLayers">Decoder layers of the whole model (L).</param>
/// <param name="Dims">(d_in, d_out) of each target module's frozen linear map.</param>
/// <param name="Targets">Adapted module types; enumeration follows the canonical order q, k, v, o, gate, up, down.</param>
/// <param name="SharedA">Module types whose A [r, d_in] is shared across layers.</param>
/// <param name="SharedB">Module types whose B [d_out, r] is shared across layers.</param>
/// <param name="Rank">r.</param>
/// <param name="Alpha">lora_alpha; the update is scaled by Alpha / Rank.</param>
/// <param name="Dropout">Dropout probability on the LoRA branch input, in [0, 1).</param>
public sealed record AdapterLayout(
    int NumLayers,
    IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> Dims,
    IReadOnlyList<TargetModule> Targets,
    IReadOnlySet<TargetModule> SharedA,
    IReadOnlySet<TargetModule> SharedB,
    int Rank,
    double Alpha,
    double Dropout)
{
    /// <summary>s = alpha / r (same for every method; no 1/L factor for shared matrices).</summary>
    public double Scale => Alpha / Rank;

    /// <summary>Targets in canonical order (q, k, v, o, gate, up, down), whatever order they were given in.</summary>
    public IReadOnlyList<TargetModule> OrderedTargets => TargetModules.All.Where(Targets.Contains).ToList();

    public bool IsTarget(TargetModule m) => Targets.Contains(m);
    public bool IsSharedA(TargetModule m) => SharedA.Contains(m);
    public bool IsSharedB(TargetModule m) => SharedB.Contains(m);

    /// <summary>
    /// "lora", "share-a", "share-b" or "share-ab" when every target follows the same rule, otherwise "custom"
    /// (e.g. sharing only for q, k, v).
    /// </summary>
    public string MethodName
    {
        get
        {
            bool allA = Targets.All(SharedA.Contains), noA = !Targets.Any(SharedA.Contains);
            bool allB = Targets.All(SharedB.Contains), noB = !Targets.Any(SharedB.Contains);
            return (allA, noA, allB, noB) switch
            {
                (_, true, _, true) => "lora",
                (true, _, _, true) => "share-a",
                (_, true, true, _) => "share-b",
                (true, _, true, _) => "share-ab",
                _ => "custom",
            };
        }
    }

    /// <summary>
    /// Trainable parameters with every shared tensor counted once (SHARELORA.md's closed forms; computed from the
    /// layout alone, so it works for 7B-sized layouts without allocating anything).
    /// </summary>
    public long TrainableParameterCount
    {
        get
        {
            long total = 0;
            foreach (var m in Targets)
            {
                var (dIn, dOut) = Dims[m];
                total += (IsSharedA(m) ? 1L : NumLayers) * Rank * dIn;
                total += (IsSharedB(m) ? 1L : NumLayers) * Rank * dOut;
            }
            return total;
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> with a one-line message naming the first invalid field.</summary>
    public void Validate()
    {
        if (NumLayers <= 0) throw new ArgumentException($"adapter layout: num_layers must be > 0 (got {NumLayers})");
        if (Rank <= 0) throw new ArgumentException($"adapter layout: rank must be > 0 (got {Rank})");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"adapter layout: dropout must be in [0, 1) (got {Dropout})");
        if (double.IsNaN(Alpha) || double.IsInfinity(Alpha)) throw new ArgumentException($"adapter layout: alpha must be finite (got {Alpha})");
        if (Targets.Count == 0) throw new ArgumentException("adapter layout: targets must name at least one module (got none)");
        if (Targets.Distinct().Count() != Targets.Count) throw new ArgumentException("adapter layout: targets lists a module twice");
        foreach (var m in Targets)
        {
            if (!Dims.TryGetValue(m, out var d)) throw new ArgumentException($"adapter layout: no dimensions for target {m.ShortName()}");
            if (d.DIn <= 0 || d.DOut <= 0) throw new ArgumentException($"adapter layout: dimensions of {m.ShortName()} must be > 0 (got {d.DIn} x {d.DOut})");
        }
        foreach (var m in SharedA.Concat(SharedB))
            if (!Targets.Contains(m)) throw new ArgumentException($"adapter layout: {m.ShortName()} is shared but not a target");
    }

    /// <summary>
    /// Dimensions of the seven Llama module types: hidden d, MLP width f, and the k/v output width (kv heads x head dim).
    /// Assumes heads x head_dim = hidden (true for the LLaMA presets); for a loaded model use <see cref="LlamaDims(LlamaConfig)"/>.
    /// </summary>
    public static IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> LlamaDims(int hidden, int intermediate, int kvDim) =>
        new Dictionary<TargetModule, (int, int)>
        {
            [TargetModule.Q] = (hidden, hidden),
            [TargetModule.K] = (hidden, kvDim),
            [TargetModule.V] = (hidden, kvDim),
            [TargetModule.O] = (hidden, hidden),
            [TargetModule.Gate] = (hidden, intermediate),
            [TargetModule.Up] = (hidden, intermediate),
            [TargetModule.Down] = (intermediate, hidden),
        };

    /// <summary>
    /// Dimensions of the six module types of a GPT-2 or RoBERTa layer: full multi-head attention (q, k, v, o all
    /// hidden x hidden, no grouped k/v) and a two-matrix MLP of width <paramref name="inner"/> (up, down; no gate).
    /// </summary>
    public static IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> FullAttentionDims(int hidden, int inner) =>
        new Dictionary<TargetModule, (int, int)>
        {
            [TargetModule.Q] = (hidden, hidden),
            [TargetModule.K] = (hidden, hidden),
            [TargetModule.V] = (hidden, hidden),
            [TargetModule.O] = (hidden, hidden),
            [TargetModule.Up] = (hidden, inner),
            [TargetModule.Down] = (inner, hidden),
        };

    /// <summary>
    /// Dimensions of the seven module types of a Llama config; q and o use heads x head_dim, which differs from
    /// hidden_size when a config sets head_dim explicitly.
    /// </summary>
    public static IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> LlamaDims(LlamaConfig config)
    {
        int h = config.HiddenSize, q = config.NumAttentionHeads * config.HeadDim, kv = config.NumKeyValueHeads * config.HeadDim;
        int f = config.IntermediateSize;
        return new Dictionary<TargetModule, (int, int)>
        {
            [TargetModule.Q] = (h, q),
            [TargetModule.K] = (h, kv),
            [TargetModule.V] = (h, kv),
            [TargetModule.O] = (q, h),
            [TargetModule.Gate] = (h, f),
            [TargetModule.Up] = (h, f),
            [TargetModule.Down] = (f, h),
        };
    }

    /// <summary>A layout for one of the four named methods ("lora", "share-a", "share-b", "share-ab") over the given targets.</summary>
    public static AdapterLayout ForMethod(string method, int numLayers, IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> dims,
        IReadOnlyList<TargetModule> targets, int rank, double alpha, double dropout)
    {
        var all = new HashSet<TargetModule>(targets);
        var none = new HashSet<TargetModule>();
        var (a, b) = method switch
        {
            "lora" => (none, none),
            "share-a" => (all, none),
            "share-b" => (none, all),
            "share-ab" => (all, all),
            _ => throw new ArgumentException($"adapter layout: method must be lora, share-a, share-b or share-ab (got '{method}')"),
        };
        return new AdapterLayout(numLayers, dims, targets, a, b, rank, alpha, dropout);
    }
}
