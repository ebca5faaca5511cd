using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Layers;

/// <summary>
/// Tensor operations with a number, or with TorchSharp's implicit alpha of 1, whose Scalars live until the native call
/// returns. TorchSharp 0.107 passes <c>scalar.Handle</c> to libtorch without GC.KeepAlive, so a temporary Scalar (a C#
/// number converted implicitly, and also the <c>alpha: 1</c> that <c>a + b</c>, <c>add(t)</c>, <c>add(s)</c> and
/// <c>arange(start, stop)</c> create inside TorchSharp) can be finalized mid-call: libtorch then fails with
/// "Unknown scalar type". Each method makes the same Scalar TorchSharp would (same C# type, so the same dtype
/// promotion) and calls the same overload, so results are bit-identical.
/// </summary>
public static class KeptScalarOps
{
    /// <summary><c>a + b</c> (alpha 1, an int Scalar as TorchSharp's own overload uses).</summary>
    public static Tensor AddTensor(this Tensor a, Tensor b)
    {
        using var one = 1.ToScalar();
        return a.add(b, one);
    }

    /// <summary>In-place <c>a += b</c> (alpha 1).</summary>
    public static Tensor AddTensor_(this Tensor a, Tensor b)
    {
        using var one = 1.ToScalar();
        return a.add_(b, one);
    }

    /// <summary><c>t + value</c> with a double Scalar.</summary>
    public static Tensor AddScalar(this Tensor t, double value)
    {
        using Scalar s = value.ToScalar(), one = 1.ToScalar();
        return t.add(s, one);
    }

    /// <summary><c>t + value</c> with an int Scalar.</summary>
    public static Tensor AddScalar(this Tensor t, int value)
    {
        using Scalar s = value.ToScalar(), one = 1.ToScalar();
        return t.add(s, one);
    }

    /// <summary><c>t + s</c> for a Scalar the caller keeps alive.</summary>
    public static Tensor AddScalar(this Tensor t, Scalar s)
    {
        using var one = 1.ToScalar();
        return t.add(s, one);
    }

    /// <summary>In-place <c>t += s</c> for a Scalar the caller keeps alive.</summary>
    public static Tensor AddScalar_(this Tensor t, Scalar s)
    {
        using var one = 1.ToScalar();
        return t.add_(s, one);
    }

    /// <summary><c>t * value</c> with a double Scalar.</summary>
    public static Tensor MulScalar(this Tensor t, double value)
    {
        using var s = value.ToScalar();
        return t.mul(s);
    }

    /// <summary><c>t ^ exponent</c> with an int Scalar.</summary>
    public static Tensor PowScalar(this Tensor t, int exponent)
    {
        using var s = exponent.ToScalar();
        return t.pow(s);
    }

    /// <summary><c>t != value</c> with an int Scalar.</summary>
    public static Tensor NeScalar(this Tensor t, int value)
    {
        using var s = value.ToScalar();
        return t.ne(s);
    }

    /// <summary><c>arange(start, stop)</c> with step 1 (an int Scalar, as TorchSharp's own overload uses).</summary>
    public static Tensor Arange(long start, long stop, ScalarType? dtype = null, Device? device = null)
    {
        using Scalar first = start.ToScalar(), end = stop.ToScalar(), step = 1.ToScalar();
        return arange(first, end, step, dtype, device);
    }
}
