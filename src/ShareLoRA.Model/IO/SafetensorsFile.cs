using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Model.IO;

/// <summary>
/// A safetensors file opened for random access: the header is parsed at open, and <see cref="Read(string, ScalarType, Device)"/> seeks to one
/// tensor and reads only its bytes (so a pipeline stage reads only its own layers).
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private readonly FileStream _stream;
    private readonly Dictionary<string, SafetensorsEntry> _entries;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries => _entries;
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Bytes of tensor data read so far (the header is not counted).</summary>
    public long BytesRead { get; private set; }

    private SafetensorsFile(string path, FileStream stream, Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _stream = stream;
        _entries = entries;
        Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: safetensors file not found", path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        try
        {
            var (entries, metadata) = ReadHeader(path, stream);
            return new SafetensorsFile(path, stream, entries, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafetensorsEntry>, Dictionary<string, string>) ReadHeader(string path, FileStream stream)
    {
        long fileLength = stream.Length;
        if (fileLength < 8) throw new InvalidDataException($"{path}: not a safetensors file ({fileLength} bytes, shorter than the 8-byte header length)");
        Span<byte> lenBytes = stackalloc byte[8];
        stream.ReadExactly(lenBytes);
        long headerLength = BitConverter.ToInt64(lenBytes);
        if (headerLength <= 0 || headerLength > fileLength - 8 || headerLength > 100_000_000)
            throw new InvalidDataException($"{path}: bad safetensors header length {headerLength} (file has {fileLength} bytes)");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        long dataStart = 8 + headerLength;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(Encoding.UTF8.GetString(headerBytes).TrimEnd(' ', '\0')); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: safetensors header is not valid JSON ({e.Message})"); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: safetensors header must be a JSON object");

        var entries = new Dictionary<string, SafetensorsEntry>();
        var metadata = new Dictionary<string, string>();
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind == JsonValueKind.Object)
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                continue;
            }
            entries[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataStart, fileLength);
        }
        return (entries, metadata);
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement e, long dataStart, long fileLength)
    {
        InvalidDataException Bad(string what) => new($"{path}: tensor '{name}': {what}");
        if (e.ValueKind != JsonValueKind.Object) throw Bad("header entry must be an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad("missing dtype");
        var dtype = dt.GetString()!;
        if (!SafetensorsDType.TryToScalarType(dtype, out var scalar)) throw Bad($"unsupported dtype {dtype}");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad("missing shape");
        var shape = sh.EnumerateArray().Select(x => x.TryGetInt64(out var v) && v >= 0 ? v : throw Bad("shape must hold non-negative integers")).ToArray();
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad("data_offsets must be [begin, end]");
        long begin = off[0].GetInt64(), end = off[1].GetInt64();
        long expected = shape.Aggregate(1L, (a, b) => a * b) * SafetensorsDType.ElementSize(scalar);
        if (begin < 0 || end < begin || end - begin != expected)
            throw Bad($"data_offsets [{begin}, {end}] do not hold {expected} bytes for {dtype} [{string.Join(", ", shape)}]");
        if (dataStart + end > fileLength)
            throw Bad($"data ends at byte {dataStart + end} but the file has only {fileLength} bytes (truncated?)");
        return new SafetensorsEntry(name, dtype, scalar, shape, dataStart + begin, dataStart + end);
    }

    public bool Contains(string name) => _entries.ContainsKey(name);

    public SafetensorsEntry Entry(string name) =>
        _entries.TryGetValue(name, out var e) ? e : throw new InvalidDataException($"{Path}: tensor '{name}' not found");

    /// <summary>Reads one tensor, converted to <paramref name="dtype"/> on <paramref name="device"/>; requires_grad is false.</summary>
    public Tensor Read(string name, ScalarType dtype, Device device)
    {
        var e = Entry(name);
        Tensor cpu;
        lock (_stream)
        {
            _stream.Seek(e.Begin, SeekOrigin.Begin);
            cpu = empty([e.ElementCount], e.ScalarType);
            try
            {
                TensorBytes.ReadInto(_stream, cpu);
            }
            catch (EndOfStreamException)
            {
                cpu.Dispose();
                throw new InvalidDataException($"{Path}: tensor '{name}': file ended before its data (truncated?)");
            }
            BytesRead += e.ByteCount;
        }
        using (cpu)
        {
            using var shaped = cpu.reshape(e.Shape);
            var result = shaped.to(dtype, device, copy: true);
            return result;
        }
    }

    /// <summary>Reads one tensor in its stored dtype on the CPU.</summary>
    public Tensor Read(string name) => Read(name, Entry(name).ScalarType, CPU);

    /// <summary>Every tensor in header order, each in its stored dtype on the CPU. The caller owns (disposes) them.</summary>
    public Dictionary<string, Tensor> ReadAll()
    {
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var name in _entries.Keys) result[name] = Read(name);
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Opens <paramref name="path"/>, reads every tensor (stored dtype, CPU) and the metadata, and closes it.</summary>
    public static (Dictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) ReadFile(string path)
    {
        using var f = Open(path);
        return (f.ReadAll(), f.Metadata);
    }

    public void Dispose() => _stream.Dispose();
}
