namespace ShareLoRA.Training.Jobs;

/// <summary>The "adapter" section: LoRA / ShareLoRA hyperparameters and which module types share what.</summary>
/// <param name="Method">"lora" (default), "share-a", "share-b" or "share-ab"; kept as a string, parsed by the adapter planner.
/// It is the sharing of every target module not named in <see cref="Share"/>.</param>
/// <param name="Rank">r (default 64).</param>
/// <param name="Alpha">alpha; the update is scaled by alpha / r (default 16).</param>
/// <param name="Dropout">Dropout on the LoRA branch input (default 0.1).</param>
/// <param name="Targets">Module types to adapt, short names in canonical order q, k, v, o, gate, up, down (default all 7,
/// the QLoRA LLaMA-1/2 setting; the paper's LLaMA-3-8B runs use ["q", "v"]). HF names (q_proj, ...) are accepted.</param>
/// <param name="Share">Per-module override of the method's sharing: module short name -> "none" | "a" | "b" | "ab"
/// (e.g. {"q": "a", "k": "a", "v": "a"} with method "lora" is the self-attention variant). Keys are targets.</param>
public sealed record AdapterConfig(
    string Method,
    int Rank,
    double Alpha,
    double Dropout,
    IReadOnlyList<string> Targets,
    IReadOnlyDictionary<string, string> Share)
{
    public const string DefaultMethod = "lora";
    public const int DefaultRank = 64;
    public const double DefaultAlpha = 16;
    public const double DefaultDropout = 0.1;
    public static readonly IReadOnlyList<string> Methods = ["lora", "share-a", "share-b", "share-ab"];
    public static readonly IReadOnlyList<string> ShareValues = ["none", "a", "b", "ab"];

    /// <summary>alpha / r, the LoRA scale.</summary>
    public double Scale => Alpha / Rank;
}
