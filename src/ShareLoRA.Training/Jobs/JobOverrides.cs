using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShareLoRA.Training.Jobs;

/// <summary>
/// Applies command-line overrides "key.path=value" (--set) to a job file's JSON before it is read, so an override is
/// validated exactly like the file. The value is JSON when it parses as JSON (2e-4, true, ["q","v"], {"q":"a"}), else a
/// string (gpipe, cuda:0, runs/x). An unknown path surfaces as "unknown field ... (from --set ...)". A relative path
/// given by an override resolves against the job file's folder, like every path in the file. "steps" and "epochs" are
/// alternatives: --set steps=N drops the file's "epochs" and --set epochs=E its "steps".
/// </summary>
public static class JobOverrides
{
    /// <summary>Sets every override in <paramref name="root"/>; returns override path -> original argument.</summary>
    public static IReadOnlyDictionary<string, string> Apply(JsonObject root, IEnumerable<string> overrides, string source)
    {
        var byPath = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var argument in overrides)
        {
            var eq = argument.IndexOf('=');
            var key = eq < 0 ? "" : argument[..eq].Trim();
            var segments = key.Split('.');
            if (eq <= 0 || segments.Any(s => s.Length == 0))
                throw new JobConfigException($"{source}: --set {argument}: expected key.path=value (e.g. adapter.rank=16)");
            var target = root;
            for (var i = 0; i < segments.Length - 1; i++)
            {
                var node = target[segments[i]];
                if (node is null)
                {
                    node = new JsonObject();
                    target[segments[i]] = node;
                }
                if (node is not JsonObject obj)
                    throw new JobConfigException(
                        $"{source}: --set {argument}: {string.Join('.', segments[..(i + 1)])} is not an object (it is {JsonSection.Render(node)})");
                target = obj;
            }
            target[segments[^1]] = ParseValue(argument[(eq + 1)..]);
            byPath[key] = argument;
            // steps and epochs are alternatives: overriding one replaces the other the file may give.
            if (key is "steps" or "epochs") root.Remove(key == "steps" ? "epochs" : "steps");
        }
        if (byPath.TryGetValue("steps", out var stepsArgument) && byPath.TryGetValue("epochs", out var epochsArgument))
            throw new JobConfigException($"{source}: --set {stepsArgument} and --set {epochsArgument}: give either steps or epochs, not both");
        return byPath;
    }

    /// <summary>JSON when the text parses as JSON, else the text as a JSON string.</summary>
    public static JsonNode? ParseValue(string text)
    {
        try { return JsonNode.Parse(text); }
        catch (JsonException) { return JsonValue.Create(text); }
    }
}
