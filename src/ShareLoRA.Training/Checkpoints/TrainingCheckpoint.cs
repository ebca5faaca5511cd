using System.Globalization;
using System.Text.Json.Nodes;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Pipeline;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// The training state of a pipelined run as checkpoint files, keyed by tensor name and so by LAYER, never by stage
/// index: adapter.safetensors holds every adapter value ("layers.3.q.B" once per layer, "shared.q.A" once),
/// optimizer.safetensors the AdamW state of the per-layer tensors, shared_optimizer.safetensors that of the shared
/// masters. A checkpoint taken with P stages therefore restores onto any partition. Plain code (no Akka): the local
/// trainer and the cluster coordinator both build and restore through it.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>
    /// The content of one checkpoint from each stage's exported state (any order, any partition) and the shared server's.
    /// The returned owner holds new handles (views, no copies) of the given tensors; dispose it after
    /// <see cref="CheckpointStore.Save"/>; the states stay the caller's.
    /// </summary>
    /// <exception cref="ArgumentException">Two stages export the same tensor.</exception>
    public static OwnedCheckpointContent Build(long step, DataCursor cursor, JobConfig job, CheckpointPlan plan, CheckpointMetrics metrics,
        IEnumerable<StageState> stages, StageState shared)
    {
        var owned = new List<Tensor>();
        try
        {
            var adapter = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var layerOptimizer = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, value) in shared.Values.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                adapter[name] = Own(owned, value.detach());
            // Layer order, whatever order the stages came in, so equal states give byte-equal files for any P.
            var perLayer = new SortedDictionary<string, (Tensor Value, AdamWParameterState? State)>(ParameterNameOrder.Instance);
            foreach (var stage in stages)
                foreach (var (name, value) in stage.Values)
                {
                    if (perLayer.ContainsKey(name) || adapter.ContainsKey(name))
                        throw new ArgumentException($"checkpoint step {step}: tensor '{name}' is exported by two stages");
                    perLayer[name] = (value, stage.Optimizer.GetValueOrDefault(name));
                }
            var states = new Dictionary<string, AdamWParameterState>(StringComparer.Ordinal);
            foreach (var (name, (value, state)) in perLayer)
            {
                adapter[name] = Own(owned, value.detach());
                if (state is not null) states[name] = state;
            }
            foreach (var (k, t) in AdamWStateTensors.ToTensors(states)) layerOptimizer[k] = Own(owned, t);
            var sharedOptimizer = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (k, t) in AdamWStateTensors.ToTensors(shared.Optimizer.OrderBy(kv => kv.Key, StringComparer.Ordinal)
                         .ToDictionary(kv => kv.Key, kv => kv.Value)))
                sharedOptimizer[k] = Own(owned, t);

            var content = new CheckpointContent(step, cursor, new CheckpointRngState(job.Seed, step), job.ToJson(), plan, metrics,
                new Dictionary<string, IReadOnlyDictionary<string, Tensor>>
                {
                    [CheckpointFiles.Adapter] = adapter,
                    [CheckpointFiles.Optimizer] = layerOptimizer,
                    [CheckpointFiles.SharedOptimizer] = sharedOptimizer,
                });
            return new OwnedCheckpointContent(content, owned);
        }
        catch
        {
            foreach (var t in owned) t.Dispose();
            throw;
        }
    }

    private static Tensor Own(List<Tensor> owned, Tensor t)
    {
        owned.Add(t);
        return t;
    }

    /// <summary>
    /// Reads a verified checkpoint's tensors into memory (CPU). The caller slices it per stage with
    /// <see cref="RestoredTrainingState.ForLayers"/> and disposes it.
    /// </summary>
    /// <exception cref="InvalidDataException">A file is missing or malformed, or an optimizer state names a tensor the adapter file lacks.</exception>
    public static RestoredTrainingState Read(LoadedCheckpoint checkpoint)
    {
        var values = checkpoint.ReadAll(CheckpointFiles.Adapter);
        Dictionary<string, AdamWParameterState>? layerState = null, sharedState = null;
        try
        {
            layerState = checkpoint.ReadOptimizerState(CheckpointFiles.Optimizer);
            sharedState = checkpoint.ReadOptimizerState(CheckpointFiles.SharedOptimizer);
            var source = checkpoint.Directory;
            foreach (var name in layerState.Keys.Concat(sharedState.Keys))
                if (!values.ContainsKey(name))
                    throw new InvalidDataException($"{source}: optimizer state for '{name}' but {CheckpointFiles.Adapter} has no such tensor");
            var shared = new StageState(
                values.Where(kv => IsShared(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal), sharedState);
            var layers = values.Where(kv => !IsShared(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            foreach (var name in layers.Keys)
                if (LayerOf(name) is null && !IsHead(name))
                    throw new InvalidDataException($"{source}: {CheckpointFiles.Adapter} tensor '{name}' is neither 'shared.*', 'layers.N.*' nor 'head.*'");
            return new RestoredTrainingState(checkpoint.Step, checkpoint.DataCursor, checkpoint.Rng.RunSeed, checkpoint.JobJson,
                checkpoint.Plan, checkpoint.Metrics, checkpoint.Name, layers, layerState, shared);
        }
        catch
        {
            foreach (var t in values.Values) t.Dispose();
            foreach (var s in layerState?.Values ?? Enumerable.Empty<AdamWParameterState>()) s.Dispose();
            foreach (var s in sharedState?.Values ?? Enumerable.Empty<AdamWParameterState>()) s.Dispose();
            throw;
        }
    }

    /// <summary>"shared.q.A" and the like: a tensor the shared parameter server owns.</summary>
    public static bool IsShared(string name) => name.StartsWith("shared.", StringComparison.Ordinal);

    /// <summary>"head.classifier.dense.weight" and the like: a trainable head tensor, owned by the last stage.</summary>
    public static bool IsHead(string name) => name.StartsWith(RobertaStageModel.HeadPrefix, StringComparison.Ordinal);

    /// <summary>The global layer of "layers.N.*", else null.</summary>
    public static int? LayerOf(string name)
    {
        if (!name.StartsWith("layers.", StringComparison.Ordinal)) return null;
        var rest = name.AsSpan("layers.".Length);
        var dot = rest.IndexOf('.');
        return dot > 0 && int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out var layer) ? layer : null;
    }

    /// <summary>
    /// Fields of the job that may differ between a checkpoint and the run resuming it: where and how the same
    /// trajectory is computed (partition, device, checkpoint cadence, eval cadence), its name and folder, and its length.
    /// Everything else (model, data, adapter, optimizer, batch, seed, dtype) changes the trajectory.
    /// </summary>
    public static readonly IReadOnlyList<string> ResumableFields =
        ["name", "output", "steps", "device", "pipeline", "checkpoint", "data.eval_every"];

    /// <summary>
    /// Null when <paramref name="job"/> may resume a checkpoint written under <paramref name="checkpointJobJson"/>,
    /// else a one-line reason naming the first field that differs (outside <see cref="ResumableFields"/>).
    /// </summary>
    public static string? Incompatibility(string checkpointJobJson, JobConfig job)
    {
        var saved = JsonNode.Parse(checkpointJobJson) as JsonObject ?? new JsonObject();
        var now = job.ToJsonObject();
        foreach (var field in ResumableFields)
        {
            Remove(saved, field);
            Remove(now, field);
        }
        return FirstDifference(saved, now, "");
    }

    private static void Remove(JsonObject root, string path)
    {
        var parts = path.Split('.');
        var node = root;
        for (int i = 0; i < parts.Length - 1; i++)
            if (node[parts[i]] is JsonObject child) node = child;
            else return;
        node.Remove(parts[^1]);
    }

    private static string? FirstDifference(JsonNode? saved, JsonNode? now, string path)
    {
        if (saved is JsonObject a && now is JsonObject b)
        {
            foreach (var key in a.Select(kv => kv.Key).Union(b.Select(kv => kv.Key)))
                if (FirstDifference(a[key], b[key], path.Length == 0 ? key : $"{path}.{key}") is { } d) return d;
            return null;
        }
        if (JsonNode.DeepEquals(saved, now)) return null;
        return $"{path} is {Render(now)} but the checkpoint was written with {Render(saved)}";
    }

    private static string Render(JsonNode? n) => n?.ToJsonString() ?? "(absent)";
}

/// <summary>Orders bank names by layer number, then by name ("layers.2.*" before "layers.10.*").</summary>
internal sealed class ParameterNameOrder : IComparer<string>
{
    public static readonly ParameterNameOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        var (lx, ly) = (Rank(x!), Rank(y!));
        return lx != ly ? lx.CompareTo(ly) : string.CompareOrdinal(x, y);
    }

    // Shared tensors first, then layer by layer, then the head (after the last layer, where it lives).
    private static int Rank(string name) =>
        TrainingCheckpoint.LayerOf(name) ?? (TrainingCheckpoint.IsHead(name) ? int.MaxValue : -1);
}
