using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Pipeline;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// A checkpoint's training state in memory (CPU tensors), ready to hand out per stage for any partition:
/// <see cref="ForLayers"/> gives the per-layer tensors and AdamW state of a layer range, <see cref="Shared"/> the shared
/// masters and their state. Dispose releases every tensor; slices handed out are separate handles the receiver disposes.
/// </summary>
public sealed class RestoredTrainingState : IDisposable
{
    private readonly IReadOnlyDictionary<string, Tensor> _layerValues;
    private readonly IReadOnlyDictionary<string, AdamWParameterState> _layerOptimizer;

    internal RestoredTrainingState(long step, DataCursor cursor, long runSeed, string jobJson, CheckpointPlan plan, CheckpointMetrics metrics,
        string name, IReadOnlyDictionary<string, Tensor> layerValues, IReadOnlyDictionary<string, AdamWParameterState> layerOptimizer, StageState shared)
    {
        Step = step;
        DataCursor = cursor;
        RunSeed = runSeed;
        JobJson = jobJson;
        Plan = plan;
        Metrics = metrics;
        Name = name;
        _layerValues = layerValues;
        _layerOptimizer = layerOptimizer;
        Shared = shared;
    }

    public long Step { get; }
    public DataCursor DataCursor { get; }
    public long RunSeed { get; }
    public string JobJson { get; }

    /// <summary>The partition the checkpoint was written under (a resume may use another).</summary>
    public CheckpointPlan Plan { get; }

    public CheckpointMetrics Metrics { get; }

    /// <summary>The checkpoint folder's name ("step-000004").</summary>
    public string Name { get; }

    /// <summary>Shared masters and their AdamW state (owned by this object; do not dispose).</summary>
    public StageState Shared { get; }

    /// <summary>Names of every tensor the stages restore: per-layer ones and a trainable head's ("head.*").</summary>
    public IReadOnlyCollection<string> LayerTensorNames => _layerValues.Keys.ToList();

    /// <summary>
    /// The per-layer tensors of layers [<paramref name="firstLayer"/>, <paramref name="endLayer"/>) with their AdamW state
    /// (step 0 and zero moments for a tensor the checkpoint has no state for). New handles (no copies); caller disposes.
    /// </summary>
    public StageState ForLayers(int firstLayer, int endLayer) => ForStage(firstLayer, endLayer, holdsHead: false);

    /// <summary>
    /// What a stage over layers [<paramref name="firstLayer"/>, <paramref name="endLayer"/>) restores: its per-layer
    /// tensors and, when <paramref name="holdsHead"/> (the last stage), the trainable head's "head.*" tensors, with their
    /// AdamW state. New handles (no copies); caller disposes.
    /// </summary>
    public StageState ForStage(int firstLayer, int endLayer, bool holdsHead)
    {
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var states = new Dictionary<string, AdamWParameterState>(StringComparer.Ordinal);
        foreach (var (name, value) in _layerValues)
        {
            bool mine = TrainingCheckpoint.LayerOf(name) is { } layer ? layer >= firstLayer && layer < endLayer
                : holdsHead && TrainingCheckpoint.IsHead(name);
            if (!mine) continue;
            values[name] = value.detach();
            states[name] = _layerOptimizer.TryGetValue(name, out var s)
                ? new AdamWParameterState(s.Step, s.ExpAvg.detach(), s.ExpAvgSq.detach())
                : new AdamWParameterState(0, zeros_like(value), zeros_like(value));
        }
        return new StageState(values, states);
    }

    /// <summary>The shared masters as a fresh handle set (caller disposes), e.g. to send to a coordinator elsewhere.</summary>
    public StageState SharedCopy() => new(
        Shared.Values.ToDictionary(kv => kv.Key, kv => kv.Value.detach(), StringComparer.Ordinal),
        Shared.Optimizer.ToDictionary(kv => kv.Key, kv => new AdamWParameterState(kv.Value.Step, kv.Value.ExpAvg.detach(), kv.Value.ExpAvgSq.detach()),
            StringComparer.Ordinal));

    public void Dispose()
    {
        foreach (var t in _layerValues.Values) t.Dispose();
        foreach (var s in _layerOptimizer.Values) s.Dispose();
        Shared.Dispose();
    }
}
