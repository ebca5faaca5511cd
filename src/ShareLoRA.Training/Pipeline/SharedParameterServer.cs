using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// Owner of the shared adapter tensors' fp32 master copies and their AdamW state (the coordinator's job in a cluster).
/// Per optimizer step it adds the stages' partial gradients (in stage order), computes the global gradient norm over
/// the shared gradients and every stage's local squared norm, derives the clip coefficient as
/// torch.nn.utils.clip_grad_norm_ does, clips and steps the shared tensors, and hands back the values to broadcast.
/// Pure TorchSharp; the Akka coordinator calls exactly <see cref="Step"/>.
/// </summary>
public sealed class SharedParameterServer : IDisposable
{
    private readonly List<(string Name, Tensor Value)> _masters = [];
    private readonly AdapterAdamW _optimizer;
    private bool _disposed;

    /// <summary>Copies <paramref name="initialValues"/> (in order) as fp32 master weights.</summary>
    public SharedParameterServer(IEnumerable<(string Name, Tensor Value)> initialValues, AdamWSettings settings)
    {
        using (no_grad())
            foreach (var (name, value) in initialValues)
                _masters.Add((name, value.detach().to(ScalarType.Float32, copy: true).DetachFromDisposeScope()));
        _optimizer = new AdapterAdamW(_masters, settings);
    }

    /// <summary>Masters initialised from the shared tensors of a bank (every bank of a run draws the same ones).</summary>
    public static SharedParameterServer FromBank(AdapterBank bank, AdamWSettings settings) =>
        new(bank.Parameters.Where(p => p.Shared).Select(p => (p.Name, p.Value)), settings);

    /// <summary>Names of the shared tensors, in the bank's canonical order.</summary>
    public IReadOnlyList<string> Names => _masters.Select(m => m.Name).ToList();

    /// <summary>Copies of the current master values (caller disposes).</summary>
    public IReadOnlyDictionary<string, Tensor> Values()
    {
        using var noGrad = no_grad();
        return _masters.ToDictionary(m => m.Name, m => m.Value.clone());
    }

    /// <summary>
    /// One optimizer step of the shared tensors.
    /// </summary>
    /// <param name="partialGradients">Per stage, in stage order: its partial gradient of every shared tensor by name.</param>
    /// <param name="localNormSquaredPerStage">Per stage: the squared norm of its per-layer gradients.</param>
    /// <param name="learningRate">This step's learning rate.</param>
    /// <param name="maxGradNorm">Clip the global norm to this; 0 = no clipping (coefficient 1).</param>
    public SharedStepResult Step(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> partialGradients,
        IReadOnlyList<double> localNormSquaredPerStage, double learningRate, double maxGradNorm)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (partialGradients.Count == 0) throw new ArgumentException("shared step: no stage sent gradients");
        if (localNormSquaredPerStage.Count != partialGradients.Count)
            throw new ArgumentException($"shared step: {partialGradients.Count} stages sent gradients but {localNormSquaredPerStage.Count} sent local norms");
        if (maxGradNorm < 0) throw new ArgumentOutOfRangeException(nameof(maxGradNorm), $"max grad norm must be >= 0 (got {maxGradNorm})");

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var sums = new Dictionary<string, Tensor>();
        foreach (var (name, master) in _masters)
        {
            Tensor? sum = null;
            for (int s = 0; s < partialGradients.Count; s++)
            {
                if (!partialGradients[s].TryGetValue(name, out var g))
                    throw new ArgumentException($"shared step: stage {s} sent no gradient for '{name}'");
                if (!g.shape.SequenceEqual(master.shape))
                    throw new ArgumentException($"shared step: stage {s}'s gradient of '{name}' must be [{string.Join(", ", master.shape)}] (got [{string.Join(", ", g.shape)}])");
                var g32 = g.dtype == ScalarType.Float32 && g.device == master.device ? g : g.to(ScalarType.Float32, master.device);
                sum = sum is null ? g32.clone() : sum.AddTensor_(g32);
            }
            sums[name] = sum!;
        }
        for (int s = 0; s < partialGradients.Count; s++)
            foreach (var name in partialGradients[s].Keys)
                if (!sums.ContainsKey(name)) throw new ArgumentException($"shared step: stage {s} sent a gradient for unknown tensor '{name}'");

        double normSquared = GradientClipping.GlobalGradNormSquared(sums.Values) + localNormSquaredPerStage.Sum();
        double norm = Math.Sqrt(normSquared);
        double coefficient = maxGradNorm > 0 ? GradientClipping.ClipCoefficient(normSquared, maxGradNorm) : 1.0;
        if (coefficient != 1.0) GradientClipping.Scale(sums.Values, coefficient);
        _optimizer.Step(sums, learningRate);

        var values = new Dictionary<string, Tensor>();
        foreach (var (name, master) in _masters) values[name] = master.clone().MoveToOuterDisposeScope();
        return new SharedStepResult(values, coefficient, norm);
    }

    /// <summary>Copies of the masters and their AdamW state, for checkpoints (holder disposes).</summary>
    public StageState ExportState() => new(Values(), _optimizer.ExportState());

    /// <summary>Restores masters and AdamW state exported by a server over the same shared tensors.</summary>
    public void ImportState(StageState state, string source = "shared state")
    {
        foreach (var name in state.Values.Keys)
            if (!_masters.Any(m => m.Name == name)) throw new ArgumentException($"{source}: '{name}' is not a shared tensor of this run");
        using (no_grad())
            foreach (var (name, master) in _masters)
            {
                if (!state.Values.TryGetValue(name, out var v)) throw new ArgumentException($"{source}: missing shared tensor '{name}'");
                if (!v.shape.SequenceEqual(master.shape))
                    throw new ArgumentException($"{source}: shared tensor '{name}' must be [{string.Join(", ", master.shape)}] (got [{string.Join(", ", v.shape)}])");
                master.copy_(v);
            }
        _optimizer.ImportState(state.Optimizer, source);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _optimizer.Dispose();
        foreach (var (_, value) in _masters) value.Dispose();
    }
}
