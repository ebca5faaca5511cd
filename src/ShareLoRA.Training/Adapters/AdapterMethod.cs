namespace ShareLoRA.Training.Adapters;

/// <summary>
/// Which low-rank matrices of a target module type are shared across all decoder layers
/// (SHARELORA.md): plain LoRA shares nothing, ShareA one A per module type, ShareB one B, ShareAB both.
/// </summary>
public enum AdapterMethod
{
    /// <summary>Every layer has its own A and B.</summary>
    Lora,
    /// <summary>One A per module type for all layers; B per layer.</summary>
    ShareA,
    /// <summary>One B per module type for all layers; A per layer.</summary>
    ShareB,
    /// <summary>One A and one B per module type for all layers.</summary>
    ShareAB,
}

/// <summary>Names of <see cref="AdapterMethod"/> as written in job files and on the command line.</summary>
public static class AdapterMethods
{
    /// <summary>All methods in the order of the paper's table.</summary>
    public static readonly IReadOnlyList<AdapterMethod> All =
        [AdapterMethod.Lora, AdapterMethod.ShareA, AdapterMethod.ShareB, AdapterMethod.ShareAB];

    /// <summary>The job-file name: lora, share-a, share-b, share-ab.</summary>
    public static string Name(this AdapterMethod method) => method switch
    {
        AdapterMethod.Lora => "lora",
        AdapterMethod.ShareA => "share-a",
        AdapterMethod.ShareB => "share-b",
        AdapterMethod.ShareAB => "share-ab",
        _ => throw new ArgumentOutOfRangeException(nameof(method)),
    };

    /// <summary>True when the method stores one A per module type for all layers.</summary>
    public static bool SharesA(this AdapterMethod method) => method is AdapterMethod.ShareA or AdapterMethod.ShareAB;

    /// <summary>True when the method stores one B per module type for all layers.</summary>
    public static bool SharesB(this AdapterMethod method) => method is AdapterMethod.ShareB or AdapterMethod.ShareAB;

    /// <summary>Parses lora, share-a, share-b, share-ab (case-insensitive; "_" accepted for "-", "sharea" style too).</summary>
    public static bool TryParse(string? text, out AdapterMethod method)
    {
        switch (text?.Trim().ToLowerInvariant().Replace('_', '-'))
        {
            case "lora": method = AdapterMethod.Lora; return true;
            case "share-a": case "sharea": method = AdapterMethod.ShareA; return true;
            case "share-b": case "shareb": method = AdapterMethod.ShareB; return true;
            case "share-ab": case "shareab": method = AdapterMethod.ShareAB; return true;
            default: method = default; return false;
        }
    }

    /// <summary>Parses a method name or throws an <see cref="ArgumentException"/> whose one-line message lists the valid names.</summary>
    /// <param name="text">The name to parse.</param>
    /// <param name="field">What the text is, for the message (e.g. "adapter.method" or "--method").</param>
    public static AdapterMethod Parse(string? text, string field = "adapter method") =>
        TryParse(text, out var method)
            ? method
            : throw new ArgumentException($"{field} must be one of {string.Join(", ", All.Select(Name))} (got '{text}')");
}
