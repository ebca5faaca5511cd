namespace ShareLoRA.Model.Gpt2;

/// <summary>
/// The one place that spells Hugging Face GPT2LMHeadModel tensor names. Conv1D weights are stored [in, out].
/// Checkpoints saved from the bare GPT2Model (e.g. the hub's "gpt2") lack the "transformer." prefix; loading accepts both.
/// </summary>
public static class Gpt2Keys
{
    public const string Prefix = "transformer.";
    public const string TokenEmbedding = Prefix + "wte.weight";
    public const string PositionEmbedding = Prefix + "wpe.weight";
    public const string FinalNormWeight = Prefix + "ln_f.weight";
    public const string FinalNormBias = Prefix + "ln_f.bias";
    public const string LmHead = "lm_head.weight";

    public static string Layer(int layer) => $"{Prefix}h.{layer}.";

    /// <summary>"transformer.h.{layer}.{module}.weight", module e.g. "attn.c_attn", "ln_1".</summary>
    public static string Weight(int layer, string module) => Layer(layer) + module + ".weight";

    public static string Bias(int layer, string module) => Layer(layer) + module + ".bias";

    /// <summary>The sub-modules of one block that hold a weight and a bias, in checkpoint order.</summary>
    public static readonly IReadOnlyList<string> BlockModules = ["ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"];

    /// <summary>Every tensor name of one block.</summary>
    public static IEnumerable<string> LayerTensors(int layer) =>
        BlockModules.SelectMany(m => new[] { Weight(layer, m), Bias(layer, m) });
}
