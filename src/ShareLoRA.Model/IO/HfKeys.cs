using ShareLoRA.Model.Adapters;

namespace ShareLoRA.Model.IO;

/// <summary>The one place that spells Hugging Face LlamaForCausalLM tensor names.</summary>
public static class HfKeys
{
    public const string EmbedTokens = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    public static string LayerPrefix(int layer) => $"model.layers.{layer}.";
    public static string InputNorm(int layer) => LayerPrefix(layer) + "input_layernorm.weight";
    public static string PostAttentionNorm(int layer) => LayerPrefix(layer) + "post_attention_layernorm.weight";

    /// <summary>HF module path of a target module inside a layer, e.g. "self_attn.q_proj" or "mlp.down_proj".</summary>
    public static string ModulePath(TargetModule module) => module switch
    {
        TargetModule.Q => "self_attn.q_proj",
        TargetModule.K => "self_attn.k_proj",
        TargetModule.V => "self_attn.v_proj",
        TargetModule.O => "self_attn.o_proj",
        TargetModule.Gate => "mlp.gate_proj",
        TargetModule.Up => "mlp.up_proj",
        TargetModule.Down => "mlp.down_proj",
        _ => throw new ArgumentOutOfRangeException(nameof(module)),
    };

    /// <summary>"model.layers.{layer}.self_attn.q_proj" etc. (PEFT adapter keys hang off this).</summary>
    public static string Module(int layer, TargetModule module) => LayerPrefix(layer) + ModulePath(module);

    /// <summary>Weight key of a target module, e.g. "model.layers.3.mlp.up_proj.weight".</summary>
    public static string Weight(int layer, TargetModule module) => Module(layer, module) + ".weight";

    /// <summary>Every tensor name of one decoder layer.</summary>
    public static IEnumerable<string> LayerTensors(int layer)
    {
        yield return InputNorm(layer);
        foreach (var m in TargetModules.All) yield return Weight(layer, m);
        yield return PostAttentionNorm(layer);
    }
}
