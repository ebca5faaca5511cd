using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Pipeline;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// A <see cref="StageState"/> (plus, for a restore, the shared values a stage's replicas take) as bounded
/// <see cref="StatePart"/>s and back. fp32 on the wire, so values and moments arrive bit for bit.
/// </summary>
public static class StageStateWire
{
    /// <summary>
    /// The state's tensors in bounded parts (<paramref name="maxBytes"/> each, see <see cref="TensorChunks"/>), the step
    /// counts in the first part. <paramref name="shared"/> ("shared.*" values) rides along when given.
    /// </summary>
    public static IReadOnlyList<StatePart> Encode(StageState state, IReadOnlyDictionary<string, Tensor>? shared = null,
        long maxBytes = TensorChunks.DefaultMaxBytes)
    {
        var tensors = new List<KeyValuePair<string, TensorPayload>>();
        foreach (var (name, value) in state.Values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            tensors.Add(new(name, TensorPayload.FromTensor(value)));
            if (state.Optimizer.TryGetValue(name, out var s))
            {
                tensors.Add(new(name + AdamWStateTensors.ExpAvgSuffix, TensorPayload.FromTensor(s.ExpAvg)));
                tensors.Add(new(name + AdamWStateTensors.ExpAvgSqSuffix, TensorPayload.FromTensor(s.ExpAvgSq)));
            }
        }
        foreach (var (name, value) in (shared ?? new Dictionary<string, Tensor>()).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            tensors.Add(new(name, TensorPayload.FromTensor(value)));
        var steps = state.Optimizer.ToDictionary(kv => kv.Key, kv => kv.Value.Step, StringComparer.Ordinal);
        return TensorChunks.Split(tensors, maxBytes)
            .Select((group, i) => new StatePart(group, i == 0 ? steps : new Dictionary<string, long>()))
            .ToList();
    }

    /// <summary>
    /// Reassembles parts into new CPU tensors the caller disposes: the stage state and the "shared.*" values.
    /// <paramref name="source"/> prefixes error messages.
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor arrives twice, or a step count lacks its moments (or the reverse).</exception>
    public static (StageState State, Dictionary<string, Tensor> Shared) Decode(IEnumerable<StatePart> parts, string source)
    {
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var steps = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            foreach (var part in parts)
            {
                foreach (var (name, payload) in part.Tensors)
                {
                    if (tensors.ContainsKey(name)) throw new InvalidDataException($"{source}: tensor '{name}' arrived twice");
                    tensors[name] = payload.ToTensor();
                }
                foreach (var (name, step) in part.Steps) steps[name] = step;
            }
            var values = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var shared = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var moments = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, t) in tensors)
                if (name.EndsWith(AdamWStateTensors.ExpAvgSuffix, StringComparison.Ordinal) || name.EndsWith(AdamWStateTensors.ExpAvgSqSuffix, StringComparison.Ordinal))
                    moments[name] = t;
                else if (TrainingCheckpoint.IsShared(name)) shared[name] = t;
                else values[name] = t;
            var optimizer = new Dictionary<string, AdamWParameterState>(StringComparer.Ordinal);
            foreach (var (name, step) in steps)
            {
                if (!moments.Remove(name + AdamWStateTensors.ExpAvgSuffix, out var m) || !moments.Remove(name + AdamWStateTensors.ExpAvgSqSuffix, out var v))
                    throw new InvalidDataException($"{source}: AdamW moments of '{name}' missing");
                optimizer[name] = new AdamWParameterState(step, m, v);
            }
            if (moments.Count > 0) throw new InvalidDataException($"{source}: tensor '{moments.Keys.First()}' has no AdamW step count");
            return (new StageState(values, optimizer), shared);
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }
}
