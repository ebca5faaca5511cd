using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Roberta;

/// <summary>
/// One post-LN encoder layer: a = LN(x + attn(x)); out = LN(a + output(gelu(intermediate(a)))), GELU exact (erf).
/// Adapter module types: Up for intermediate.dense, Down for output.dense (besides the attention's Q, K, V, O).
/// </summary>
public sealed class RobertaLayer : nn.Module
{
    private readonly RobertaAttention attention;
    private readonly FrozenAffine intermediate, output;
    private readonly FrozenLayerNorm output_norm;

    /// <summary>Global index of this layer in the whole model (0-based), also the adapter key.</summary>
    public int LayerIndex { get; }

    public RobertaLayer(RobertaConfig config, int layerIndex, WeightSource weights) : base(nameof(RobertaLayer))
    {
        LayerIndex = layerIndex;
        attention = new RobertaAttention(config, layerIndex, weights);
        intermediate = Linear(weights, layerIndex, RobertaKeys.Intermediate, config.HiddenSize, config.IntermediateSize);
        output = Linear(weights, layerIndex, RobertaKeys.Output, config.IntermediateSize, config.HiddenSize);
        output_norm = Norm(weights, layerIndex, RobertaKeys.OutputNorm, config);
        register_module("attention", attention);
        register_module("intermediate", intermediate);
        register_module("output", output);
        register_module("output_norm", output_norm);
    }

    public RobertaAttention Attention => attention;

    /// <param name="x">[b, s, h]</param>
    /// <param name="mask">Boolean [b, 1, 1, s] key mask, or null.</param>
    public Tensor Forward(Tensor x, ILayerAdapter? adapter, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var a = attention.Forward(x, adapter, mask);
        var f = gelu(intermediate.Forward(a, TargetModule.Up, adapter));              // [b, s, ffn]
        return output_norm.Forward(a.AddTensor(output.Forward(f, TargetModule.Down, adapter))).MoveToOuterDisposeScope();
    }

    /// <summary>This layer's tensors under their Hugging Face names.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> HfTensors()
    {
        int i = LayerIndex;
        (string Name, Tensor W, Tensor B)[] parts =
        [
            (RobertaKeys.Query, attention.Query.Weight, attention.Query.Bias),
            (RobertaKeys.Key, attention.Key.Weight, attention.Key.Bias),
            (RobertaKeys.Value, attention.Value.Weight, attention.Value.Bias),
            (RobertaKeys.AttentionOutput, attention.Output.Weight, attention.Output.Bias),
            (RobertaKeys.AttentionNorm, attention.Norm.Weight, attention.Norm.Bias),
            (RobertaKeys.Intermediate, intermediate.Weight, intermediate.Bias),
            (RobertaKeys.Output, output.Weight, output.Bias),
            (RobertaKeys.OutputNorm, output_norm.Weight, output_norm.Bias),
        ];
        foreach (var (name, w, b) in parts)
        {
            yield return new(RobertaKeys.Weight(i, name), w);
            yield return new(RobertaKeys.Bias(i, name), b);
        }
    }

    internal static FrozenAffine Linear(WeightSource weights, int layer, string module, long dIn, long dOut)
    {
        using var w = weights(RobertaKeys.Weight(layer, module), [dOut, dIn]);   // Linear: [out, in]
        using var b = weights(RobertaKeys.Bias(layer, module), [dOut]);
        return new FrozenAffine(w, b, inputMajor: false);
    }

    internal static FrozenLayerNorm Norm(WeightSource weights, int layer, string module, RobertaConfig config)
    {
        using var w = weights(RobertaKeys.Weight(layer, module), [config.HiddenSize]);
        using var b = weights(RobertaKeys.Bias(layer, module), [config.HiddenSize]);
        return new FrozenLayerNorm(w, b, config.LayerNormEps);
    }
}
