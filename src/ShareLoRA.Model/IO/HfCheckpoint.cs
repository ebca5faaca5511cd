using System.Text.Json;
using ShareLoRA.Model.Config;
using static TorchSharp.torch;

namespace ShareLoRA.Model.IO;

/// <summary>
/// A Hugging Face model directory: config.json plus model.safetensors, or shards listed by
/// model.safetensors.index.json. Tensors are read one at a time, each reading only its own bytes.
/// </summary>
public sealed class HfCheckpoint : IDisposable
{
    private readonly Dictionary<string, string> _fileOf;   // tensor name -> shard file name
    private readonly Dictionary<string, SafetensorsFile> _open = new();

    private readonly LlamaConfig? _config;

    public string Directory { get; }

    /// <summary>The Llama config.json; throws for a checkpoint opened with <see cref="OpenTensors"/> (other model families).</summary>
    public LlamaConfig Config => _config ?? throw new InvalidOperationException(
        $"{Directory}: this checkpoint was opened for its tensors only; its config.json was not read as a Llama config");

    private HfCheckpoint(string directory, LlamaConfig? config, Dictionary<string, string> fileOf)
    {
        Directory = directory;
        _config = config;
        _fileOf = fileOf;
    }

    /// <summary>Opens a Llama checkpoint: config.json is parsed as a <see cref="LlamaConfig"/> (errors name its fields).</summary>
    public static HfCheckpoint Open(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: model directory not found");
        return OpenWith(dir, LlamaConfig.Load(Path.Combine(dir, "config.json")));
    }

    /// <summary>
    /// Opens the safetensors of any model family without interpreting config.json (GPT-2 and RoBERTa read their own
    /// config records); <see cref="Config"/> is unavailable.
    /// </summary>
    public static HfCheckpoint OpenTensors(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: model directory not found");
        return OpenWith(dir, null);
    }

    private static HfCheckpoint OpenWith(string dir, LlamaConfig? config)
    {
        var single = Path.Combine(dir, "model.safetensors");
        var index = Path.Combine(dir, "model.safetensors.index.json");
        var fileOf = new Dictionary<string, string>();
        var checkpoint = new HfCheckpoint(dir, config, fileOf);
        try
        {
            if (System.IO.File.Exists(single))
            {
                var f = checkpoint.Shard("model.safetensors");
                foreach (var name in f.Entries.Keys) fileOf[name] = "model.safetensors";
            }
            else if (System.IO.File.Exists(index))
            {
                foreach (var (name, file) in ReadIndex(index)) fileOf[name] = file;
            }
            else
            {
                throw new FileNotFoundException($"{dir}: neither model.safetensors nor model.safetensors.index.json found");
            }
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
        return checkpoint;
    }

    private static IEnumerable<KeyValuePair<string, string>> ReadIndex(string indexPath)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(indexPath)); }
        catch (JsonException e) { throw new InvalidDataException($"{indexPath}: not valid JSON ({e.Message})"); }
        using var _ = doc;
        if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{indexPath}: weight_map object is missing");
        var result = new List<KeyValuePair<string, string>>();
        foreach (var p in map.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{indexPath}: weight_map.{p.Name} must be a file name");
            var file = p.Value.GetString()!;
            if (file.Contains('/') || file.Contains('\\') || file.Contains(".."))
                throw new InvalidDataException($"{indexPath}: weight_map.{p.Name} names a file outside the directory: {file}");
            result.Add(new(p.Name, file));
        }
        return result;
    }

    private SafetensorsFile Shard(string fileName)
    {
        if (!_open.TryGetValue(fileName, out var f))
        {
            f = SafetensorsFile.Open(Path.Combine(Directory, fileName));
            _open[fileName] = f;
        }
        return f;
    }

    /// <summary>All tensor names the checkpoint holds.</summary>
    public IEnumerable<string> TensorNames => _fileOf.Keys;

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    /// <summary>Header entry (dtype, shape, size) of a tensor, without reading its data.</summary>
    public SafetensorsEntry Entry(string name)
    {
        if (!_fileOf.TryGetValue(name, out var fileName))
            throw new InvalidDataException($"{Directory}: tensor '{name}' not found in the checkpoint");
        var f = Shard(fileName);
        if (!f.Contains(name))
            throw new InvalidDataException($"{f.Path}: tensor '{name}' not found (the index lists it in this file)");
        return f.Entry(name);
    }

    public Tensor Read(string name, ScalarType dtype, Device device)
    {
        Entry(name);
        return Shard(_fileOf[name]).Read(name, dtype, device);
    }

    /// <summary>Reads a tensor and checks its shape, naming the tensor and file when it differs.</summary>
    public Tensor Read(string name, ScalarType dtype, Device device, long[] expectedShape)
    {
        var e = Entry(name);
        if (!e.Shape.SequenceEqual(expectedShape))
            throw new InvalidDataException(
                $"{Shard(_fileOf[name]).Path}: tensor '{name}' has shape [{string.Join(", ", e.Shape)}], expected [{string.Join(", ", expectedShape)}] from config.json");
        return Shard(_fileOf[name]).Read(name, dtype, device);
    }

    /// <summary>Tensor bytes read so far, summed over all files.</summary>
    public long BytesRead => _open.Values.Sum(f => f.BytesRead);

    public void Dispose()
    {
        foreach (var f in _open.Values) f.Dispose();
        _open.Clear();
    }
}
