using ShareLoRA.Model.Config;
using ShareLoRA.Model.Layers;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Llama;

/// <summary>
/// Rotary position embedding in HF's rotate_half convention: x * cos + rotate_half(x) * sin, where dimension i
/// pairs with i + d/2 and cos/sin repeat the d/2 frequencies over both halves.
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly float[] _invFreq;

    public RotaryEmbedding(LlamaConfig config)
    {
        _invFreq = InverseFrequencies(config.HeadDim, config.RopeTheta, config.RopeScaling);
    }

    /// <summary>The d/2 inverse frequencies, with linear or llama3 scaling applied as HF transformers does.</summary>
    public IReadOnlyList<float> InvFreq => _invFreq;

    public static float[] InverseFrequencies(int headDim, double theta, RopeScaling? scaling)
    {
        int half = headDim / 2;
        var inv = new float[half];
        for (int i = 0; i < half; i++)
        {
            // HF computes base ** (arange(0, d, 2) / d) in fp32; do the same rounding.
            float exponent = (float)(2 * i) / headDim;
            inv[i] = (float)(1.0 / Math.Pow(theta, exponent));
        }
        if (scaling == null) return inv;
        switch (scaling.Type)
        {
            case "linear":
                for (int i = 0; i < half; i++) inv[i] = (float)(inv[i] / scaling.Factor);
                return inv;
            case "llama3":
                return Llama3(inv, scaling);
            default:
                throw new InvalidDataException($"rope_scaling.rope_type \"{scaling.Type}\" is not supported");
        }
    }

    // Mirrors transformers' _compute_llama3_parameters: wavelengths longer than the original context / low_freq_factor
    // are divided by factor, shorter than original / high_freq_factor are kept, and those between are blended.
    private static float[] Llama3(float[] inv, RopeScaling s)
    {
        double factor = s.Factor, low = s.LowFreqFactor!.Value, high = s.HighFreqFactor!.Value;
        double oldContext = s.OriginalMaxPositionEmbeddings!.Value;
        double lowFreqWavelen = oldContext / low;
        double highFreqWavelen = oldContext / high;
        var result = new float[inv.Length];
        for (int i = 0; i < inv.Length; i++)
        {
            double f = inv[i];
            double wavelen = 2 * Math.PI / f;
            double scaled = wavelen > lowFreqWavelen ? f / factor : f;
            bool medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium)
            {
                double smooth = (oldContext / wavelen - low) / (high - low);
                scaled = (1 - smooth) * scaled / factor + smooth * scaled;
            }
            result[i] = (float)scaled;
        }
        return result;
    }

    /// <summary>cos and sin for positions [start, start + length): each [length, head_dim], in <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) CosSin(long start, long length, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var positions = KeptScalarOps.Arange(start, start + length, ScalarType.Float32, device);   // [s]
        var invFreq = tensor(_invFreq, device: device);                                            // [d/2]
        var freqs = positions.unsqueeze(1) * invFreq.unsqueeze(0);                                   // [s, d/2]
        var emb = cat([freqs, freqs], 1);                                                          // [s, d]
        var cos = emb.cos().to(dtype);
        var sin = emb.sin().to(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates x [b, heads, s, d] by the angles of its positions (cos, sin: [s, d]).</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        return (x * cos).AddTensor(RotateHalf(x) * sin).MoveToOuterDisposeScope();
    }

    /// <summary>[x1, x2] -> [-x2, x1] over the last dimension's two halves.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return cat([x2.neg(), x1], -1).MoveToOuterDisposeScope();
    }
}
