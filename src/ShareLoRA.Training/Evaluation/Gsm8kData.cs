using System.Text.Json;
using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Evaluation;

/// <summary>Reads GSM8K JSON Lines ({"question": ..., "answer": ...} per line); a bad line fails naming "file:line".</summary>
public static class Gsm8kData
{
    public static IReadOnlyList<Gsm8kProblem> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: GSM8K file not found", path);
        var problems = new List<Gsm8kProblem>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                using var doc = JsonDocument.Parse(text);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new DatasetException($"{path}:{line}: expected a JSON object");
                problems.Add(new Gsm8kProblem(Field(root, "question", path, line), Field(root, "answer", path, line), $"{path}:{line}"));
            }
            catch (JsonException e)
            {
                throw new DatasetException($"{path}:{line}: not valid JSON ({e.Message.Split(" Path:")[0].Split(" LineNumber:")[0]})");
            }
        }
        return problems;
    }

    private static string Field(JsonElement record, string name, string path, int line) =>
        record.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : throw new DatasetException($"{path}:{line}: missing string field '{name}'");
}
