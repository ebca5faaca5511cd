using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShareLoRA.Training.Jobs;

/// <summary>
/// One JSON object of a job file read strictly: every field it holds must be declared up front (else "unknown field
/// a.b"), and every read names the field's full JSON path in its error. Missing fields and JSON null take the default.
/// </summary>
internal sealed class JsonSection
{
    private readonly JsonObject _object;
    private readonly string _path;
    private readonly JobErrors _errors;

    private JsonSection(JsonObject obj, string path, JobErrors errors)
    {
        _object = obj;
        _path = path;
        _errors = errors;
    }

    /// <summary>The root object; fails on any field not in <paramref name="known"/>.</summary>
    public static JsonSection Root(JsonObject obj, JobErrors errors, params string[] known)
    {
        var section = new JsonSection(obj, "", errors);
        section.RejectUnknown(known);
        return section;
    }

    public string PathOf(string field) => _path.Length == 0 ? field : _path + "." + field;

    /// <summary>A nested object (empty when missing); fails on any field not in <paramref name="known"/>.</summary>
    public JsonSection Section(string field, params string[] known)
    {
        var node = Node(field);
        var section = node switch
        {
            null => new JsonSection([], PathOf(field), _errors),
            JsonObject obj => new JsonSection(obj, PathOf(field), _errors),
            _ => throw _errors.Invalid(PathOf(field), "must be an object", node),
        };
        section.RejectUnknown(known);
        return section;
    }

    public JsonNode? Node(string field) => _object[field];

    public string? OptionalString(string field)
    {
        var node = Node(field);
        if (node is null) return null;
        if (node.GetValueKind() != JsonValueKind.String) throw _errors.Invalid(PathOf(field), "must be a string", node);
        return node.GetValue<string>();
    }

    public string RequiredString(string field, string what)
    {
        var value = OptionalString(field);
        if (string.IsNullOrWhiteSpace(value)) throw _errors.Missing(PathOf(field), what);
        return value;
    }

    public string String(string field, string @default) => OptionalString(field) ?? @default;

    /// <summary>A string that must be one of <paramref name="allowed"/> (exact, case-sensitive).</summary>
    public string Choice(string field, string @default, IReadOnlyList<string> allowed)
    {
        var value = String(field, @default);
        if (!allowed.Contains(value))
            throw _errors.Invalid(PathOf(field), "must be one of " + string.Join(", ", allowed), Node(field));
        return value;
    }

    public bool Bool(string field, bool @default)
    {
        var node = Node(field);
        if (node is null) return @default;
        return node.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw _errors.Invalid(PathOf(field), "must be true or false", node),
        };
    }

    public long Long(string field, long @default)
    {
        var node = Node(field);
        if (node is null) return @default;
        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<long>(out var value))
            throw _errors.Invalid(PathOf(field), "must be an integer", node);
        return value;
    }

    public int Int(string field, int @default)
    {
        var node = Node(field);
        if (node is null) return @default;
        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<int>(out var value))
            throw _errors.Invalid(PathOf(field), "must be an integer", node);
        return value;
    }

    public double Double(string field, double @default)
    {
        var node = Node(field);
        return node is null ? @default : AsDouble(node, PathOf(field));
    }

    public double AsDouble(JsonNode node, string path)
    {
        if (node.GetValueKind() != JsonValueKind.Number || !node.AsValue().TryGetValue<double>(out var value) || !double.IsFinite(value))
            throw _errors.Invalid(path, "must be a number", node);
        return value;
    }

    /// <summary>An array of strings, or <paramref name="default"/> when missing.</summary>
    public IReadOnlyList<string> StringList(string field, IReadOnlyList<string> @default)
    {
        var node = Node(field);
        if (node is null) return @default;
        if (node is not JsonArray array) throw _errors.Invalid(PathOf(field), "must be an array of strings", node);
        var list = new List<string>();
        for (var i = 0; i < array.Count; i++)
        {
            var item = array[i];
            if (item is null || item.GetValueKind() != JsonValueKind.String)
                throw _errors.Invalid($"{PathOf(field)}[{i}]", "must be a string", item);
            list.Add(item.GetValue<string>());
        }
        return list;
    }

    /// <summary>An object of string values (keys free), or empty when missing.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> StringMap(string field)
    {
        var node = Node(field);
        if (node is null) return [];
        if (node is not JsonObject obj) throw _errors.Invalid(PathOf(field), "must be an object of strings", node);
        var list = new List<KeyValuePair<string, string>>();
        foreach (var (key, value) in obj)
        {
            if (value is null || value.GetValueKind() != JsonValueKind.String)
                throw _errors.Invalid($"{PathOf(field)}.{key}", "must be a string", value);
            list.Add(new(key, value.GetValue<string>()));
        }
        return list;
    }

    private void RejectUnknown(string[] known)
    {
        foreach (var (key, _) in _object)
            if (!known.Contains(key))
                throw _errors.Unknown(PathOf(key));
    }

    /// <summary>How a value appears in messages: JSON text ("64" quoted, 0 bare, null).</summary>
    public static string Render(JsonNode? node) => node is null ? "null" : node.ToJsonString();

    public static string Render(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
