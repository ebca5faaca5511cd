using System.Text;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace ShareLoRA.Model.IO;

/// <summary>Writes tensors as one safetensors file (header JSON padded with spaces to a multiple of 8, as HF does).</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var names = new HashSet<string>();
        foreach (var (name, _) in list)
            if (!names.Add(name)) throw new ArgumentException($"{path}: tensor '{name}' given twice");

        var header = new JsonObject();
        if (metadata != null && metadata.Count > 0)
        {
            var m = new JsonObject();
            foreach (var (k, v) in metadata) m[k] = v;
            header["__metadata__"] = m;
        }
        long offset = 0;
        foreach (var (name, t) in list)
        {
            long bytes = t.NumberOfElements * SafetensorsDType.ElementSize(t.dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = SafetensorsDType.FromScalarType(t.dtype),
                ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode)d).ToArray()),
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
                foreach (var (_, t) in list)
                {
                    using var cpu = t.detach().cpu().contiguous();
                    using var flat = cpu.reshape(cpu.NumberOfElements);
                    TensorBytes.WriteFrom(stream, flat);
                }
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <summary>Same, for (name, tensor) tuples.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors.Select(t => new KeyValuePair<string, Tensor>(t.Name, t.Value)), metadata);
}
