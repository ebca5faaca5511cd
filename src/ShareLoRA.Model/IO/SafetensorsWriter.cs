using System.Text;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace ShareLoRA.Model.IO;

/// <summary>Writes tensors as one safetensors file (header JSON padded with spaces to a multiple of 8, as HF does).</summary>
public static class SafetensorsWriter
{
    /// <summary>Name, dtype and shape of one tensor to be written (the header is built from these before any data).</summary>
    public sealed record TensorSpec(string Name, ScalarType DType, long[] Shape);

    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var specs = list.Select(t => new TensorSpec(t.Key, t.Value.dtype, t.Value.shape)).ToList();
        WriteCore(path, specs, metadata, (i, stream) => WriteData(stream, list[i].Value));
    }

    /// <summary>Same, for (name, tensor) tuples.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors.Select(t => new KeyValuePair<string, Tensor>(t.Name, t.Value)), metadata);

    /// <summary>
    /// Writes tensors one at a time, so a file larger than memory can be produced: <paramref name="produce"/> is called
    /// once per spec, in order, and its result (which must match the spec's dtype and shape) is written and disposed.
    /// </summary>
    public static void Write(string path, IReadOnlyList<TensorSpec> specs, Func<TensorSpec, Tensor> produce, IReadOnlyDictionary<string, string>? metadata = null)
    {
        WriteCore(path, specs, metadata, (i, stream) =>
        {
            var spec = specs[i];
            using var t = produce(spec);
            if (t.dtype != spec.DType || !t.shape.SequenceEqual(spec.Shape))
                throw new InvalidOperationException(
                    $"{path}: tensor '{spec.Name}' was announced as {spec.DType} [{string.Join(", ", spec.Shape)}] but produced as {t.dtype} [{string.Join(", ", t.shape)}]");
            WriteData(stream, t);
        });
    }

    private static void WriteData(Stream stream, Tensor t)
    {
        // A scope, so the detach/cpu intermediates are freed too (two leaked handles per tensor otherwise).
        using var scope = NewDisposeScope();
        var cpu = t.detach().cpu().contiguous();
        var flat = cpu.reshape(cpu.NumberOfElements);
        TensorBytes.WriteFrom(stream, flat);
    }

    private static void WriteCore(string path, IReadOnlyList<TensorSpec> specs, IReadOnlyDictionary<string, string>? metadata, Action<int, Stream> writeTensor)
    {
        var names = new HashSet<string>();
        foreach (var spec in specs)
            if (!names.Add(spec.Name)) throw new ArgumentException($"{path}: tensor '{spec.Name}' given twice");

        var header = new JsonObject();
        if (metadata != null && metadata.Count > 0)
        {
            var m = new JsonObject();
            foreach (var (k, v) in metadata) m[k] = v;
            header["__metadata__"] = m;
        }
        long offset = 0;
        foreach (var spec in specs)
        {
            long bytes = spec.Shape.Aggregate(1L, (a, b) => a * b) * SafetensorsDType.ElementSize(spec.DType);
            header[spec.Name] = new JsonObject
            {
                ["dtype"] = SafetensorsDType.FromScalarType(spec.DType),
                ["shape"] = new JsonArray(spec.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;

        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir != null) Directory.CreateDirectory(dir);
        // Written beside the target and renamed over it, so a crash mid-write never leaves a torn file under the real
        // name (checkpoints and adapters are overwritten in place).
        var tmp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(BitConverter.GetBytes((long)padded));
                stream.Write(json);
                for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
                for (int i = 0; i < specs.Count; i++) writeTensor(i, stream);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }
}
