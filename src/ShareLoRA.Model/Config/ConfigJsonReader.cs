using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShareLoRA.Model.Config;

/// <summary>
/// Typed fields of a Hugging Face config.json object for the Llama, GPT-2 and RoBERTa config records, with one-line
/// errors naming the file and the field. <c>prefix</c> names a nested object's fields in errors
/// (e.g. "rope_scaling.").
/// </summary>
internal sealed class ConfigJsonReader(JsonObject obj, string source, string prefix = "")
{
    public JsonObject Root => obj;
    public string Source => source;

    public static ConfigJsonReader Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found", path);
        return Parse(File.ReadAllText(path), path);
    }

    public static ConfigJsonReader Parse(string json, string source)
    {
        try
        {
            var root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: expected a JSON object");
            return new ConfigJsonReader(root, source);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message.Split('\n')[0]})");
        }
    }

    public InvalidDataException Bad(string field, string expected, JsonNode? got) =>
        new($"{source}: {prefix}{field} must be {expected} (got {got?.ToJsonString() ?? "null"})");

    private JsonValue? Value(string field, string expected)
    {
        var node = obj[field];
        if (node == null) return null;
        return node as JsonValue ?? throw Bad(field, expected, node);
    }

    public int ReqPositiveInt(string field)
    {
        var v = OptInt(field) ?? throw new InvalidDataException($"{source}: required field {prefix}{field} is missing");
        if (v <= 0) throw Bad(field, "a positive integer", obj[field]);
        return v;
    }

    public int? OptPositiveInt(string field)
    {
        var v = OptInt(field);
        if (v is <= 0) throw Bad(field, "a positive integer", obj[field]);
        return v;
    }

    public int? OptInt(string field)
    {
        var v = Value(field, "an integer");
        if (v == null) return null;
        if (v.TryGetValue<int>(out var i)) return i;
        if (v.GetValueKind() == JsonValueKind.Number
            && double.TryParse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue) return (int)d;
        throw Bad(field, "an integer", v);
    }

    public double ReqDouble(string field) =>
        OptDouble(field) ?? throw new InvalidDataException($"{source}: required field {prefix}{field} is missing");

    public double? OptDouble(string field)
    {
        var v = Value(field, "a number");
        if (v == null) return null;
        if (v.GetValueKind() != JsonValueKind.Number) throw Bad(field, "a number", v);
        return double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    public double? OptPositiveDouble(string field)
    {
        var v = Value(field, "a number");
        if (v == null) return null;
        if (v.GetValueKind() != JsonValueKind.Number) throw Bad(field, "a positive number", v);
        var d = double.Parse(v.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);
        return d > 0 ? d : throw Bad(field, "a positive number", v);
    }

    public bool? OptBool(string field)
    {
        var v = Value(field, "true or false");
        if (v == null) return null;
        return v.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Bad(field, "true or false", v),
        };
    }

    public string? OptString(string field)
    {
        var v = Value(field, "a string");
        if (v == null) return null;
        return v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw Bad(field, "a string", v);
    }

    /// <summary>An integer or a list of integers (e.g. eos_token_id); empty when absent.</summary>
    public IReadOnlyList<int> OptIntOrList(string field)
    {
        var node = obj[field];
        if (node == null) return [];
        if (node is JsonArray arr)
            return arr.Select(n => n is JsonValue jv && jv.TryGetValue<int>(out var i) ? i : throw Bad(field, "an integer or a list of integers", node)).ToArray();
        return [OptInt(field)!.Value];
    }

    /// <summary>Throws unless model_type is absent or equal to <paramref name="expected"/>.</summary>
    public void RequireModelType(string expected)
    {
        var type = OptString("model_type");
        if (type != null && type != expected)
            throw new InvalidDataException($"{source}: model_type must be \"{expected}\" (got \"{type}\")");
    }
}
