using System.Text.RegularExpressions;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Final answers of GSM8K completions. The model's answer is the number after the first "####", else after the first
/// "The final answer is", else the last number in the text. Numbers are normalised before the exact match: commas,
/// "$" and surrounding spaces removed, a trailing "." or all-zero decimals dropped ("1,234.00" -> "1234", "-5.50" -> "-5.5").
/// </summary>
public static partial class Gsm8kAnswer
{
    [GeneratedRegex(@"-?\$?\s*\d[\d,]*(?:\.\d+)?|-?\$?\s*\.\d+")]
    private static partial Regex Number();

    private static readonly string[] Markers = ["####", "The final answer is"];

    /// <summary>The normalised predicted answer, or null when the text holds no number.</summary>
    public static string? Extract(string completion)
    {
        foreach (var marker in Markers)
        {
            int at = completion.IndexOf(marker, StringComparison.OrdinalIgnoreCase);
            if (at < 0) continue;
            var match = Number().Match(completion, at + marker.Length);
            if (match.Success) return Normalize(match.Value);
        }
        var all = Number().Matches(completion);
        return all.Count == 0 ? null : Normalize(all[^1].Value);
    }

    /// <summary>The gold answer of a GSM8K record: the number after "####", normalised.</summary>
    public static string Gold(string answer)
    {
        int at = answer.LastIndexOf("####", StringComparison.Ordinal);
        if (at < 0) throw new FormatException("a GSM8K answer must contain '#### <number>' (none found)");
        return Normalize(answer[(at + 4)..]);
    }

    public static string Normalize(string number)
    {
        var s = number.Replace(",", "").Replace("$", "").Replace(" ", "").Trim().TrimEnd('.');
        int dot = s.IndexOf('.');
        if (dot >= 0)
        {
            s = s.TrimEnd('0');
            if (s.EndsWith('.')) s = s[..^1];
        }
        if (s.StartsWith("-.", StringComparison.Ordinal)) s = "-0" + s[1..];
        else if (s.StartsWith('.')) s = "0" + s;
        if (s == "-0") s = "0";
        return s;
    }
}
