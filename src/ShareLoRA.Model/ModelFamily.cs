using ShareLoRA.Model.Adapters;

namespace ShareLoRA.Model;

/// <summary>The model families the model layer implements: Llama (the paper's main runs), GPT-2 (E2E NLG) and RoBERTa (GLUE).</summary>
public enum ModelFamily
{
    Llama,
    Gpt2,
    Roberta,
}

/// <summary>Names and adaptable modules of each <see cref="ModelFamily"/>.</summary>
public static class ModelFamilies
{
    /// <summary>The Hugging Face model_type: llama, gpt2, roberta.</summary>
    public static string Name(this ModelFamily family) => family switch
    {
        ModelFamily.Llama => "llama",
        ModelFamily.Gpt2 => "gpt2",
        ModelFamily.Roberta => "roberta",
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    // Kept here rather than read from Gpt2Model/RobertaModel: those are TorchSharp modules, and touching them loads
    // libtorch, which shape-only planning (`sharelora plan`, `params`) must never do.
    private static readonly IReadOnlyList<TargetModule> EncoderDecoderTargets =
        [TargetModule.Q, TargetModule.K, TargetModule.V, TargetModule.O, TargetModule.Up, TargetModule.Down];

    /// <summary>Module types the family's adapter hook reaches (Llama: all seven; GPT-2 and RoBERTa have no gate).</summary>
    public static IReadOnlyList<TargetModule> SupportedTargets(this ModelFamily family) => family switch
    {
        ModelFamily.Llama => TargetModules.All,
        ModelFamily.Gpt2 or ModelFamily.Roberta => EncoderDecoderTargets,
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };

    /// <summary>True when the family's classification head trains fully beside the adapters (RoBERTa on GLUE).</summary>
    public static bool HasTrainableHead(this ModelFamily family) => family == ModelFamily.Roberta;
}
