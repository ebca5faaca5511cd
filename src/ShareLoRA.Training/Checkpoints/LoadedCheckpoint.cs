using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using ShareLoRA.Training.Data;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// A verified checkpoint: the manifest's fields, and its tensor files opened on first use (only the header is read at
/// open; each tensor is read when asked for). Dispose closes the files; tensors read from it are the caller's.
/// </summary>
public sealed class LoadedCheckpoint : IDisposable
{
    private readonly Dictionary<string, SafetensorsFile> _open = new(StringComparer.Ordinal);
    private bool _disposed;

    internal LoadedCheckpoint(string directory, CheckpointManifest manifest)
    {
        Directory = directory;
        Manifest = manifest;
    }

    /// <summary>Full path of the checkpoint folder.</summary>
    public string Directory { get; }

    public string Name => Path.GetFileName(Directory);
    public CheckpointManifest Manifest { get; }
    public long Step => Manifest.Step;
    public DateTimeOffset CreatedUtc => Manifest.CreatedUtc;
    public DataCursor DataCursor => Manifest.DataCursor;
    public CheckpointRngState Rng => Manifest.Rng;

    /// <summary>The job as saved; <see cref="Jobs.JobConfig.Parse"/> turns it back into a config.</summary>
    public string JobJson => Manifest.JobJson;

    public CheckpointPlan Plan => Manifest.Plan;
    public CheckpointMetrics Metrics => Manifest.Metrics;

    /// <summary>Names of the tensor files.</summary>
    public IReadOnlyList<string> Files => Manifest.Files.Select(f => f.Name).ToList();

    public bool HasFile(string file) => Manifest.Files.Any(f => f.Name == file);

    /// <summary>Tensor names of one file, in file order.</summary>
    public IReadOnlyList<string> TensorNames(string file) =>
        Open(file).Entries.Values.OrderBy(e => e.Begin).Select(e => e.Name).ToList();

    /// <summary>One tensor on the CPU in its stored dtype; the caller disposes it.</summary>
    /// <exception cref="InvalidDataException">The file is not in the checkpoint or holds no such tensor.</exception>
    public Tensor Read(string file, string tensor)
    {
        var f = Open(file);
        return f.Read(tensor, f.Entry(tensor).ScalarType, CPU);
    }

    /// <summary>Every tensor of one file by name (CPU, stored dtype); the caller disposes them.</summary>
    public Dictionary<string, Tensor> ReadAll(string file)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var name in TensorNames(file)) result[name] = Read(file, name);
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>An AdamW state saved with <see cref="AdamWStateTensors.ToTensors"/>; the caller disposes the states.</summary>
    public Dictionary<string, AdamWParameterState> ReadOptimizerState(string file)
    {
        var tensors = ReadAll(file);
        try { return AdamWStateTensors.FromTensors(tensors, Path.Combine(Directory, file)); }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    private SafetensorsFile Open(string file)
    {
        lock (_open)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_open.TryGetValue(file, out var f)) return f;
            if (!HasFile(file))
                throw new InvalidDataException($"{Directory}: checkpoint has no file '{file}' (it has {string.Join(", ", Files)})");
            f = SafetensorsFile.Open(Path.Combine(Directory, file));
            _open[file] = f;
            return f;
        }
    }

    public void Dispose()
    {
        lock (_open)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var f in _open.Values) f.Dispose();
            _open.Clear();
        }
    }
}
