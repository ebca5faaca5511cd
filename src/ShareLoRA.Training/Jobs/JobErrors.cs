using System.Text.Json.Nodes;

namespace ShareLoRA.Training.Jobs;

/// <summary>
/// Builds the one-line messages of <see cref="JobConfigException"/>: "SOURCE: PATH must be ... (got VALUE)", and names the
/// --set argument when the offending field came from an override.
/// </summary>
internal sealed class JobErrors(string source, IReadOnlyDictionary<string, string> overridesByPath)
{
    public string Source { get; } = source;

    public JobConfigException Invalid(string path, string expectation, JsonNode? got) =>
        new($"{Source}: {path} {expectation} (got {JsonSection.Render(got)}){FromOverride(path)}");

    public JobConfigException Invalid(string path, string expectation, string got) =>
        new($"{Source}: {path} {expectation} (got {got}){FromOverride(path)}");

    public JobConfigException Missing(string path, string what) =>
        new($"{Source}: missing field {path} ({what})");

    public JobConfigException Unknown(string path) =>
        new($"{Source}: unknown field {path}{FromOverride(path)}");

    public JobConfigException General(string message) => new($"{Source}: {message}");

    // An override "a.b.c=1" may be the culprit for path "a.b.c" itself or, when it created "a.b", for "a.b".
    private string FromOverride(string path)
    {
        foreach (var (key, argument) in overridesByPath)
            if (key == path || key.StartsWith(path + ".", StringComparison.Ordinal))
                return $" (from --set {argument})";
        return "";
    }
}
