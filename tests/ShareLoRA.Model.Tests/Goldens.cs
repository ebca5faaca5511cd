using System.Text.Json;
using ShareLoRA.TestSupport;

namespace ShareLoRA.Model.Tests;

/// <summary>The llama2.c goldens of stories260K (shared/models/stories260K-hf/goldens-greedy.json).</summary>
public static class Goldens
{
    public sealed record GreedyCase(string Name, string Prompt, int[] PromptIds, int[] GreedyIds, string TextWithPrompt);
    public sealed record TokenizationCase(string Text, int[] Ids);

    private static JsonDocument Load() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedAssets.Stories260K, "goldens-greedy.json")));

    public static IReadOnlyList<GreedyCase> Greedy()
    {
        using var doc = Load();
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new GreedyCase(
            c.GetProperty("name").GetString()!,
            c.GetProperty("prompt").GetString()!,
            c.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            c.GetProperty("greedy_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            c.GetProperty("greedy_text_with_prompt").GetString()!)).ToList();
    }

    public static IReadOnlyList<TokenizationCase> Tokenization()
    {
        using var doc = Load();
        return doc.RootElement.GetProperty("tokenization_cases_llama2c").GetProperty("cases").EnumerateArray()
            .Select(c => new TokenizationCase(c.GetProperty("text").GetString()!,
                c.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray())).ToList();
    }

    /// <summary>Case names for [MemberData] (resolved at run time so a missing shared folder only skips).</summary>
    public static IEnumerable<object[]> GreedyCaseNames() =>
        new[] { "Once_upon_a_time", "Once_upon_a_time_there_was", "Lily", "EMPTY" }.Select(n => new object[] { n });
}
