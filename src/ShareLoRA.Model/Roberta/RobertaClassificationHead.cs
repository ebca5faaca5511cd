using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Roberta;

/// <summary>
/// RobertaClassificationHead on the &lt;s&gt; (first) token: out_proj(tanh(dense(x[:, 0]))). Unlike the encoder it is
/// trainable (requires_grad), as in the LoRA paper's GLUE runs where the classifier trains fully. Its parameters are
/// kept in float32 (float64 for a float64 model) whatever the encoder's dtype: they are master weights.
/// </summary>
public sealed class RobertaClassificationHead : nn.Module
{
    private readonly Parameter dense_weight, dense_bias, out_proj_weight, out_proj_bias;

    public RobertaClassificationHead(Tensor denseWeight, Tensor denseBias, Tensor outWeight, Tensor outBias, ScalarType dtype)
        : base(nameof(RobertaClassificationHead))
    {
        dense_weight = Trainable(denseWeight, dtype);
        dense_bias = Trainable(denseBias, dtype);
        out_proj_weight = Trainable(outWeight, dtype);
        out_proj_bias = Trainable(outBias, dtype);
        register_parameter("dense_weight", dense_weight);
        register_parameter("dense_bias", dense_bias);
        register_parameter("out_proj_weight", out_proj_weight);
        register_parameter("out_proj_bias", out_proj_bias);
    }

    private static Parameter Trainable(Tensor t, ScalarType dtype)
    {
        using var copy = t.detach().to_type(dtype);
        return new Parameter(copy, requires_grad: true);
    }

    public ScalarType DType => dense_weight.dtype;
    public Parameter DenseWeight => dense_weight;
    public Parameter DenseBias => dense_bias;
    public Parameter OutWeight => out_proj_weight;
    public Parameter OutBias => out_proj_bias;

    /// <summary>The four trainable tensors under their Hugging Face names.</summary>
    public IEnumerable<KeyValuePair<string, Parameter>> NamedParameters()
    {
        yield return new(RobertaKeys.Weight(RobertaKeys.ClassifierDense), dense_weight);
        yield return new(RobertaKeys.Bias(RobertaKeys.ClassifierDense), dense_bias);
        yield return new(RobertaKeys.Weight(RobertaKeys.ClassifierOut), out_proj_weight);
        yield return new(RobertaKeys.Bias(RobertaKeys.ClassifierOut), out_proj_bias);
    }

    /// <summary>[b, s, h] encoder output -> [b, num_labels] from position 0 (the &lt;s&gt; token).</summary>
    public Tensor Forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var first = hidden.select(1, 0).to_type(DType);                                  // [b, h]
        var x = linear(first, dense_weight, dense_bias).tanh();
        return linear(x, out_proj_weight, out_proj_bias).MoveToOuterDisposeScope();      // [b, labels]
    }
}
