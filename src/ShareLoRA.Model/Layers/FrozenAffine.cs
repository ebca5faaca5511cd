using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace ShareLoRA.Model.Layers;

/// <summary>
/// A frozen affine map y = x W + b with a bias, in either storage orientation: PyTorch Linear ([out, in], RoBERTa)
/// or GPT-2's Conv1D ([in, out]). The weight is kept exactly as the checkpoint stores it, so saving writes it back
/// unchanged; the forward reads it through a transposed view where needed.
/// </summary>
public sealed class FrozenAffine : nn.Module
{
    private readonly Parameter weight, bias;

    /// <summary>True for Conv1D storage ([in, out]); false for Linear storage ([out, in]).</summary>
    public bool InputMajor { get; }
    public long InFeatures => InputMajor ? weight.shape[0] : weight.shape[1];
    public long OutFeatures => InputMajor ? weight.shape[1] : weight.shape[0];

    public FrozenAffine(Tensor weight, Tensor bias, bool inputMajor) : base(nameof(FrozenAffine))
    {
        InputMajor = inputMajor;
        this.weight = FrozenParameter.From(weight);
        this.bias = FrozenParameter.From(bias);
        register_parameter("weight", this.weight);
        register_parameter("bias", this.bias);
    }

    /// <summary>The weight as stored in the checkpoint.</summary>
    public Parameter Weight => weight;
    public Parameter Bias => bias;

    /// <summary>[..., in] -> [..., out].</summary>
    public Tensor Forward(Tensor x)
    {
        if (!InputMajor) return linear(x, weight, bias);
        using var w = weight.t();   // Conv1D [in, out] seen as Linear's [out, in]
        return linear(x, w, bias);
    }

    /// <summary>Forward plus the adapter's delta for <paramref name="module"/> (when the adapter has one).</summary>
    public Tensor Forward(Tensor x, TargetModule module, ILayerAdapter? adapter)
    {
        var y = Forward(x);
        var delta = adapter?.Delta(module, x);
        return delta is null ? y : y.AddTensor(delta);
    }
}
