using ShareLoRA.Model.Adapters;

namespace ShareLoRA.Training.Adapters;

/// <summary>
/// Which target modules carry an adapter and, per module type, whether its A and/or B is one tensor shared by all
/// layers. Built from one method for every target (<see cref="For"/>), optionally with per-module overrides such as
/// the self-attention variant "share A for q, k, v; plain LoRA for o, gate, up, down" (<see cref="SelfAttentionOnly"/>).
/// Immutable, compared by value; targets are kept in the canonical order q, k, v, o, gate, up, down.
/// </summary>
public sealed record SharingPolicy
{
    private readonly IReadOnlyDictionary<TargetModule, AdapterMethod> _methods;

    private SharingPolicy(IReadOnlyList<TargetModule> targets, IReadOnlyDictionary<TargetModule, AdapterMethod> methods)
    {
        Targets = targets;
        _methods = methods;
    }

    /// <summary>Adapted modules, distinct, in canonical order.</summary>
    public IReadOnlyList<TargetModule> Targets { get; }

    /// <summary>True when <paramref name="module"/> carries an adapter.</summary>
    public bool IsTarget(TargetModule module) => _methods.ContainsKey(module);

    /// <summary>The method applied to a target module; throws when the module is not a target.</summary>
    public AdapterMethod MethodFor(TargetModule module) =>
        _methods.TryGetValue(module, out var m)
            ? m
            : throw new ArgumentException($"module '{module.ShortName()}' is not an adapter target (targets: {TargetList})");

    /// <summary>True when the module is a target and its A is one tensor for all layers.</summary>
    public bool SharesA(TargetModule module) => _methods.TryGetValue(module, out var m) && m.SharesA();

    /// <summary>True when the module is a target and its B is one tensor for all layers.</summary>
    public bool SharesB(TargetModule module) => _methods.TryGetValue(module, out var m) && m.SharesB();

    /// <summary>True when any target shares any matrix (then a pipeline needs a per-step sync of shared matrices).</summary>
    public bool SharesAny => Targets.Any(t => SharesA(t) || SharesB(t));

    /// <summary>The same method for every target.</summary>
    public static SharingPolicy For(AdapterMethod method, IEnumerable<TargetModule> targets) =>
        Build(method, targets, overrides: null);

    /// <summary>
    /// The paper's self-attention variant: <paramref name="method"/> on q, k, v; plain LoRA on the other targets.
    /// </summary>
    public static SharingPolicy SelfAttentionOnly(AdapterMethod method, IEnumerable<TargetModule> targets)
    {
        var list = Canonical(targets);
        var overrides = list.Where(t => t is not (TargetModule.Q or TargetModule.K or TargetModule.V))
            .ToDictionary(t => t, _ => AdapterMethod.Lora);
        return Build(method, list, overrides);
    }

    /// <summary>
    /// Builds a policy from job-file or command-line text: a method name (lora, share-a, share-b, share-ab), target module
    /// names (q, k, v, o, gate, up, down or q_proj, ...), and optional overrides from module name to method name.
    /// Throws <see cref="ArgumentException"/> with a one-line message on unknown names or an override of a non-target.
    /// </summary>
    public static SharingPolicy Parse(string method, IEnumerable<string> targets, IReadOnlyDictionary<string, string>? perModuleOverrides = null)
    {
        var baseMethod = AdapterMethods.Parse(method, "adapter method");
        var modules = targets.Select(ParseModule).ToList();
        Dictionary<TargetModule, AdapterMethod>? overrides = null;
        if (perModuleOverrides != null)
        {
            overrides = [];
            foreach (var (name, value) in perModuleOverrides)
                overrides[ParseModule(name)] = AdapterMethods.Parse(value, $"adapter override for '{name}'");
        }
        return Build(baseMethod, modules, overrides);
    }

    /// <summary>This policy with <paramref name="module"/> (already a target) switched to <paramref name="method"/>.</summary>
    public SharingPolicy WithOverride(TargetModule module, AdapterMethod method)
    {
        _ = MethodFor(module); // throws with a clear message when not a target
        var methods = new Dictionary<TargetModule, AdapterMethod>(_methods) { [module] = method };
        return new SharingPolicy(Targets, methods);
    }

    /// <summary>
    /// Short description: the method name when uniform ("share-a"), else per module ("q,k,v:share-a o,gate,up,down:lora").
    /// </summary>
    public override string ToString()
    {
        var groups = Targets.GroupBy(t => _methods[t]).ToList();
        if (groups.Count == 1) return groups[0].Key.Name();
        return string.Join(" ", groups.Select(g => string.Join(",", g.Select(t => t.ShortName())) + ":" + g.Key.Name()));
    }

    public bool Equals(SharingPolicy? other) =>
        other is not null && Targets.SequenceEqual(other.Targets) && Targets.All(t => _methods[t] == other._methods[t]);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var t in Targets) { hash.Add(t); hash.Add(_methods[t]); }
        return hash.ToHashCode();
    }

    private string TargetList => string.Join(", ", Targets.Select(t => t.ShortName()));

    private static SharingPolicy Build(AdapterMethod method, IEnumerable<TargetModule> targets, IReadOnlyDictionary<TargetModule, AdapterMethod>? overrides)
    {
        var list = Canonical(targets);
        var methods = list.ToDictionary(t => t, _ => method);
        if (overrides != null)
            foreach (var (module, m) in overrides)
            {
                if (!methods.ContainsKey(module))
                    throw new ArgumentException(
                        $"adapter override names module '{module.ShortName()}', which is not a target (targets: {string.Join(", ", list.Select(t => t.ShortName()))})");
                methods[module] = m;
            }
        return new SharingPolicy(list, methods);
    }

    // Canonical order and no duplicates: the adapter bank, checkpoints and parameter counts must not depend on
    // the order the user listed the modules in.
    private static IReadOnlyList<TargetModule> Canonical(IEnumerable<TargetModule> targets)
    {
        var set = targets.ToHashSet();
        if (set.Count == 0) throw new ArgumentException("adapter targets must name at least one module (q, k, v, o, gate, up, down)");
        return TargetModules.All.Where(set.Contains).ToArray();
    }

    private static TargetModule ParseModule(string name) =>
        TargetModules.TryParse(name, out var module)
            ? module
            : throw new ArgumentException($"adapter target must be one of q, k, v, o, gate, up, down (got '{name}')");
}
