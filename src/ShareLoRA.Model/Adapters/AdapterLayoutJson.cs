using System.Text.Json;

namespace ShareLoRA.Model.Adapters;

/// <summary>Reads and writes an <see cref="AdapterLayout"/> as JSON (native adapter metadata, the "sharelora" section of a PEFT config).</summary>
internal static class AdapterLayoutJson
{
    public static void WriteSharing(Utf8JsonWriter w, AdapterLayout layout, Func<TargetModule, string> name)
    {
        w.WriteString("method", layout.MethodName);
        w.WriteStartArray("shared_a");
        foreach (var m in layout.OrderedTargets.Where(layout.IsSharedA)) w.WriteStringValue(name(m));
        w.WriteEndArray();
        w.WriteStartArray("shared_b");
        foreach (var m in layout.OrderedTargets.Where(layout.IsSharedB)) w.WriteStringValue(name(m));
        w.WriteEndArray();
    }

    /// <summary>The whole layout as a compact JSON object.</summary>
    public static string Serialize(AdapterLayout layout)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteNumber("num_layers", layout.NumLayers);
            w.WriteNumber("rank", layout.Rank);
            w.WriteNumber("alpha", layout.Alpha);
            w.WriteNumber("dropout", layout.Dropout);
            w.WriteStartArray("targets");
            foreach (var m in layout.OrderedTargets) w.WriteStringValue(m.ShortName());
            w.WriteEndArray();
            WriteSharing(w, layout, m => m.ShortName());
            w.WriteStartObject("dims");
            foreach (var m in layout.OrderedTargets)
            {
                w.WriteStartArray(m.ShortName());
                w.WriteNumberValue(layout.Dims[m].DIn);
                w.WriteNumberValue(layout.Dims[m].DOut);
                w.WriteEndArray();
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    public static AdapterLayout Deserialize(string json, string source)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var targets = ReadModules(root.GetProperty("targets"), source, "targets");
            var dims = new Dictionary<TargetModule, (int, int)>();
            foreach (var p in root.GetProperty("dims").EnumerateObject())
            {
                if (!TargetModules.TryParse(p.Name, out var m)) throw new InvalidDataException($"{source}: layout.dims names unknown module '{p.Name}'");
                var d = p.Value.EnumerateArray().Select(e => e.GetInt32()).ToArray();
                if (d.Length != 2) throw new InvalidDataException($"{source}: layout.dims.{p.Name} must be [d_in, d_out]");
                dims[m] = (d[0], d[1]);
            }
            var layout = new AdapterLayout(
                root.GetProperty("num_layers").GetInt32(), dims, targets,
                ReadModules(root.GetProperty("shared_a"), source, "shared_a").ToHashSet(),
                ReadModules(root.GetProperty("shared_b"), source, "shared_b").ToHashSet(),
                root.GetProperty("rank").GetInt32(), root.GetProperty("alpha").GetDouble(), root.GetProperty("dropout").GetDouble());
            layout.Validate();
            return layout;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: adapter layout metadata is invalid ({e.Message})", e);
        }
    }

    public static List<TargetModule> ReadModules(JsonElement array, string source, string field)
    {
        var list = new List<TargetModule>();
        foreach (var e in array.EnumerateArray())
        {
            var s = e.GetString() ?? "";
            if (!TargetModules.TryParse(s, out var m))
                throw new InvalidDataException($"{source}: {field} names unknown module '{s}' (expected q, k, v, o, gate, up, down or their *_proj names)");
            list.Add(m);
        }
        return list;
    }
}
