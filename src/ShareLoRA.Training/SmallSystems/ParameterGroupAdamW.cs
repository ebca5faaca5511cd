using ShareLoRA.Model.Adapters;
using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// torch.optim.AdamW with parameter groups: one <see cref="AdapterAdamW"/> per group (AdamW is element-wise, so
/// separate optimizers with each group's settings step exactly as one optimizer with groups would). All groups share
/// the scheduled learning rate; only weight decay differs (HF Trainer: no decay on biases and LayerNorm weights).
/// </summary>
public sealed class ParameterGroupAdamW : IDisposable
{
    private readonly List<(string Group, AdapterAdamW Optimizer, IReadOnlyList<(string Name, Tensor Value)> Parameters)> _groups = [];

    public void AddGroup(string group, IEnumerable<(string Name, Tensor Value)> parameters, AdamWSettings settings)
    {
        var list = parameters.ToList();
        if (list.Count == 0) return;
        _groups.Add((group, new AdapterAdamW(list, settings), list));
    }

    /// <summary>Every parameter of every group, in group order.</summary>
    public IEnumerable<(string Group, string Name, Tensor Value)> Parameters =>
        _groups.SelectMany(g => g.Parameters.Select(p => (g.Group, p.Name, p.Value)));

    /// <summary>Clips the global gradient norm over all groups (max_grad_norm &lt;= 0: no clipping) and returns the norm before clipping.</summary>
    public double ClipGradients(double maxNorm)
    {
        var grads = new List<Tensor>();
        try
        {
            foreach (var (_, _, value) in Parameters)
                if (value.grad is { } g) grads.Add(g);
            double squared = GradientClipping.GlobalGradNormSquared(grads);
            if (maxNorm > 0) GradientClipping.Scale(grads, GradientClipping.ClipCoefficient(squared, maxNorm));
            return Math.Sqrt(squared);
        }
        finally
        {
            foreach (var g in grads) g.Dispose();
        }
    }

    public void Step(double learningRate)
    {
        foreach (var g in _groups) g.Optimizer.Step(learningRate);
    }

    public void ZeroGrad()
    {
        foreach (var g in _groups) g.Optimizer.ZeroGrad();
    }

    public void Dispose()
    {
        foreach (var g in _groups) g.Optimizer.Dispose();
    }
}
