using ShareLoRA.Model;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Planning;

namespace ShareLoRA.Training.Adapters;

/// <summary>
/// Turns a job's "adapter" section and a model's config.json into the <see cref="AdapterLayout"/> the adapter bank is
/// built from: sharing from the method plus per-module "share" overrides, dimensions from the model (q and o use
/// heads x head_dim, k and v kv_heads x head_dim). Mismatches between the job and the model fail here, before any
/// tensor is allocated, with a one-line <see cref="JobConfigException"/>.
/// </summary>
public static class AdapterLayoutFactory
{
    /// <summary>The sharing policy of an adapter section: the method for every target, overridden per module by "share".</summary>
    public static SharingPolicy PolicyOf(AdapterConfig adapter, string source = "job")
    {
        try
        {
            var overrides = adapter.Share.ToDictionary(kv => kv.Key, kv => ShareValueToMethod(kv.Value, $"{source}: adapter.share.{kv.Key}"));
            return SharingPolicy.Parse(adapter.Method, adapter.Targets, overrides);
        }
        catch (ArgumentException e)
        {
            throw new JobConfigException($"{source}: {e.Message}");
        }
    }

    /// <summary>(d_in, d_out) of every module type of a Llama model with this config (the model layer's <see cref="AdapterLayout.LlamaDims(LlamaConfig)"/>).</summary>
    public static IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> DimsOf(LlamaConfig config) => AdapterLayout.LlamaDims(config);

    /// <summary>The layout for <paramref name="adapter"/> on a model with <paramref name="config"/>.</summary>
    /// <param name="adapter">The job's adapter section.</param>
    /// <param name="config">The base model's config.</param>
    /// <param name="source">Names the job file in error messages.</param>
    /// <param name="modelSource">Names the model (its config.json) in error messages.</param>
    public static AdapterLayout Create(AdapterConfig adapter, LlamaConfig config, string source = "job", string modelSource = "model config") =>
        Create(adapter, PolicyOf(adapter, source), config.NumHiddenLayers, DimsOf(config), source, modelSource);

    /// <summary>
    /// The layout for <paramref name="adapter"/> on a model of any family, from its shape (GPT-2 and RoBERTa have no
    /// gate: a job naming it fails here, listing the family's adaptable modules).
    /// </summary>
    public static AdapterLayout Create(AdapterConfig adapter, ModelShape shape, string source = "job", string modelSource = "model config")
    {
        var policy = PolicyOf(adapter, source);
        var supported = shape.Family.SupportedTargets();
        foreach (var m in policy.Targets)
            if (!supported.Contains(m))
                throw new JobConfigException(
                    $"{source}: adapter.targets lists {m.ShortName()}, but {modelSource} is a {shape.Family.Name()} model without it " +
                    $"(adaptable: {string.Join(", ", supported.Select(t => t.ShortName()))}); set adapter.targets, e.g. [\"q\", \"v\"]");
        var dims = supported.ToDictionary(m => m, shape.Dims);
        return Create(adapter, policy, shape.NumLayers, dims, source, modelSource);
    }

    private static AdapterLayout Create(AdapterConfig adapter, SharingPolicy policy, int numLayers,
        IReadOnlyDictionary<TargetModule, (int DIn, int DOut)> dims, string source, string modelSource)
    {
        foreach (var m in policy.Targets)
        {
            var (dIn, dOut) = dims[m];
            // A rank above either side of the map adds parameters but no expressiveness; it is almost always a job
            // written for another model.
            if (adapter.Rank > Math.Min(dIn, dOut))
                throw new JobConfigException(
                    $"{source}: adapter.rank {adapter.Rank} exceeds the {m.ShortName()} projection of {modelSource} " +
                    $"(d_in {dIn}, d_out {dOut}); use a rank <= {Math.Min(dIn, dOut)}");
        }
        var layout = new AdapterLayout(
            numLayers,
            dims,
            policy.Targets,
            policy.Targets.Where(policy.SharesA).ToHashSet(),
            policy.Targets.Where(policy.SharesB).ToHashSet(),
            adapter.Rank,
            adapter.Alpha,
            adapter.Dropout);
        try { layout.Validate(); }
        catch (ArgumentException e) { throw new JobConfigException($"{source}: {e.Message}"); }
        return layout;
    }

    private static string ShareValueToMethod(string value, string field) => value switch
    {
        "none" => "lora",
        "a" => "share-a",
        "b" => "share-b",
        "ab" => "share-ab",
        _ => throw new ArgumentException($"{field} must be one of none, a, b, ab (got '{value}')"),
    };
}
