using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Roberta;

namespace ShareLoRA.Training.Planning;

/// <summary>
/// Shapes of published models (no weights), for parameter counts and planning without a download: LLaMA-family, and
/// the paper's small-model systems GPT-2 (E2E NLG) and RoBERTa (GLUE; a 2-label classifier unless overridden).
/// </summary>
public static class ModelPresets
{
    private static readonly ModelShape Llama7B = new(4096, 11008, 32, 32, 32, 128, 32000, false);
    private static readonly ModelShape Llama13B = new(5120, 13824, 40, 40, 40, 128, 32000, false);

    /// <summary>Preset name -> shape, in a stable order for listings.</summary>
    public static readonly IReadOnlyList<KeyValuePair<string, ModelShape>> All =
    [
        new("llama-7b", Llama7B),
        new("llama-13b", Llama13B),
        new("llama2-7b", Llama7B),
        new("llama2-13b", Llama13B),
        new("llama3-8b", new ModelShape(4096, 14336, 32, 32, 8, 128, 128256, false)),
        new("llama3-70b", new ModelShape(8192, 28672, 80, 64, 8, 128, 128256, false)),
        new("gpt2", ModelShape.FromGpt2(new Gpt2Config(50257, 1024, 768, 12, 12, 3072))),
        new("gpt2-medium", ModelShape.FromGpt2(new Gpt2Config(50257, 1024, 1024, 24, 16, 4096))),
        new("gpt2-large", ModelShape.FromGpt2(new Gpt2Config(50257, 1024, 1280, 36, 20, 5120))),
        new("roberta-base", ModelShape.FromRoberta(new RobertaConfig(50265, 768, 12, 12, 3072))),
        new("roberta-large", ModelShape.FromRoberta(new RobertaConfig(50265, 1024, 24, 16, 4096))),
    ];

    /// <summary>The known preset names.</summary>
    public static IEnumerable<string> Names => All.Select(p => p.Key);

    /// <summary>The shape of a preset (case-insensitive); an unknown name throws a one-line error listing the known names.</summary>
    public static ModelShape Get(string name)
    {
        foreach (var (key, shape) in All)
            if (string.Equals(key, name?.Trim(), StringComparison.OrdinalIgnoreCase)) return shape;
        throw new ArgumentException($"unknown model preset '{name}'; known presets: {string.Join(", ", Names)}");
    }
}
