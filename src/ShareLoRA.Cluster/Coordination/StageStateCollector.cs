using ShareLoRA.Cluster.Wire;
using ShareLoRA.Training.Pipeline;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// Gathers the bounded state parts every stage sends for one checkpoint and decodes them once all have arrived.
/// Plain code: the coordinator feeds it messages and asks whether it is complete.
/// </summary>
public sealed class StageStateCollector(int stages, int step)
{
    private readonly List<StatePart>?[] _parts = new List<StatePart>?[stages];
    private readonly int[] _expected = new int[stages];

    /// <summary>The committed step whose state is being collected.</summary>
    public int Step { get; } = step;

    /// <summary>Tensor bytes received so far.</summary>
    public long Bytes { get; private set; }

    /// <summary>Adds one part (parts of another step are ignored); true when every stage's parts are in.</summary>
    public bool Add(int stage, int step, int parts, StatePart part)
    {
        if (step != Step || stage < 0 || stage >= _parts.Length) return IsComplete;
        (_parts[stage] ??= []).Add(part);
        _expected[stage] = parts;
        Bytes += part.Tensors.Values.Sum(t => t.Bytes.LongLength);
        return IsComplete;
    }

    public bool IsComplete => _parts.Select((p, i) => p is not null && p.Count >= _expected[i]).All(x => x);

    /// <summary>Every stage's state as new CPU tensors (caller disposes each).</summary>
    public List<StageState> Decode()
    {
        var states = new List<StageState>();
        try
        {
            for (int i = 0; i < _parts.Length; i++)
            {
                var (state, shared) = StageStateWire.Decode(_parts[i]!, $"state of stage {i} after step {Step}");
                foreach (var t in shared.Values) t.Dispose();
                states.Add(state);
            }
            return states;
        }
        catch
        {
            foreach (var s in states) s.Dispose();
            throw;
        }
    }
}
