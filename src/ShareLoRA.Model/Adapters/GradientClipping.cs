using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// Global-norm gradient clipping split into parts that can be summed across processes: each holder computes the
/// squared norm of its own gradients, the coordinator adds them (a shared matrix counted once), takes the clip
/// coefficient, and every holder scales its gradients by it. Same numbers as torch.nn.utils.clip_grad_norm_
/// (norm_type 2): coefficient = min(1, max_norm / (norm + 1e-6)).
/// </summary>
public static class GradientClipping
{
    /// <summary>Sum of squares of all elements of all tensors, accumulated in float64.</summary>
    public static double GlobalGradNormSquared(IEnumerable<Tensor> grads)
    {
        double total = 0;
        foreach (var g in grads)
        {
            using var scope = NewDisposeScope();
            var d = g.to_type(ScalarType.Float64);
            total += d.mul(d).sum().item<double>();
        }
        return total;
    }

    /// <summary>min(1, maxNorm / (sqrt(normSquared) + 1e-6)).</summary>
    public static double ClipCoefficient(double normSquared, double maxNorm) =>
        Math.Min(1.0, maxNorm / (Math.Sqrt(normSquared) + 1e-6));

    /// <summary>Multiplies every gradient in place by <paramref name="coefficient"/>, as clip_grad_norm_ does.</summary>
    public static void Scale(IEnumerable<Tensor> grads, double coefficient)
    {
        using var noGrad = no_grad();
        using var scale = coefficient.ToScalar();   // explicit Scalar kept alive: see AdapterDropout.KeepMask
        foreach (var g in grads) g.mul_(scale);
    }
}
