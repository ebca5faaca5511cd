using System.Buffers.Binary;
using System.Text.Json;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Adapters;

/// <summary>
/// Minimal safetensors reader/writer for adapter-sized files (whole file in memory). Writes F32 (F64 tensors as F64);
/// reads F32, F64, BF16 and F16. Layout: u64 little-endian header length, JSON header
/// {"__metadata__": {..}, name: {dtype, shape, data_offsets}}, then the raw little-endian data.
/// Kept internal to the adapters until the model layer's general safetensors IO is merged.
/// </summary>
internal static class AdapterSafetensors
{
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = new List<(string Name, string DType, long[] Shape, byte[] Bytes)>();
        foreach (var (name, value) in tensors)
        {
            using var scope = NewDisposeScope();
            var t = value.detach().cpu();
            string dtype;
            if (t.dtype == ScalarType.Float64) dtype = "F64";
            else { dtype = "F32"; t = t.to_type(ScalarType.Float32); }
            t = t.contiguous();
            entries.Add((name, dtype, t.shape, t.bytes.ToArray()));
        }

        using var headerStream = new MemoryStream();
        using (var w = new Utf8JsonWriter(headerStream))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in entries)
            {
                w.WriteStartObject(e.Name);
                w.WriteString("dtype", e.DType);
                w.WriteStartArray("shape");
                foreach (var d in e.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + e.Bytes.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += e.Bytes.Length;
            }
            w.WriteEndObject();
        }
        var header = headerStream.ToArray().ToList();
        while (header.Count % 8 != 0) header.Add((byte)' '); // pad so the data starts 8-byte aligned

        var tmp = path + ".tmp";
        using (var f = File.Create(tmp))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Count);
            f.Write(len);
            f.Write(header.ToArray());
            foreach (var e in entries) f.Write(e.Bytes);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads every tensor (in header order) and the metadata. The caller owns the tensors.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new InvalidDataException($"{path}: not a safetensors file (shorter than 8 bytes)");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > (ulong)(bytes.Length - 8)) throw new InvalidDataException($"{path}: header length {headerLength} exceeds the file size");
        long dataStart = 8 + (long)headerLength;
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var tensors = new Dictionary<string, Tensor>();
        var metadata = new Dictionary<string, string>();
        try
        {
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    foreach (var m in prop.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var dtypeName = prop.Value.GetProperty("dtype").GetString();
                var shape = prop.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var offsets = prop.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var (dtype, size) = dtypeName switch
                {
                    "F32" => (ScalarType.Float32, 4),
                    "F64" => (ScalarType.Float64, 8),
                    "BF16" => (ScalarType.BFloat16, 2),
                    "F16" => (ScalarType.Float16, 2),
                    _ => throw new InvalidDataException($"{path}: tensor '{prop.Name}' has dtype {dtypeName}; expected F32, F64, BF16 or F16"),
                };
                long count = shape.Aggregate(1L, (a, b) => a * b);
                if (offsets.Length != 2 || offsets[1] - offsets[0] != count * size || dataStart + offsets[1] > bytes.Length)
                    throw new InvalidDataException($"{path}: tensor '{prop.Name}' data_offsets [{string.Join(", ", offsets)}] do not match its shape [{string.Join(", ", shape)}] {dtypeName} or the file size");
                var t = empty(shape, dtype);
                bytes.AsSpan((int)(dataStart + offsets[0]), (int)(count * size)).CopyTo(t.bytes);
                tensors[prop.Name] = t;
            }
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
        return (tensors, metadata);
    }

    /// <summary>Only the header: names, dtypes and shapes (for tests and checks that need no data).</summary>
    public static IReadOnlyDictionary<string, (string DType, long[] Shape)> ReadHeader(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> len = stackalloc byte[8];
        f.ReadExactly(len);
        var header = new byte[BinaryPrimitives.ReadUInt64LittleEndian(len)];
        f.ReadExactly(header);
        using var doc = JsonDocument.Parse(header);
        var result = new Dictionary<string, (string, long[])>();
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__") continue;
            result[prop.Name] = (prop.Value.GetProperty("dtype").GetString() ?? "",
                prop.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        }
        return result;
    }
}
