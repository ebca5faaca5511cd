using System.Globalization;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// Folder names under RUN/checkpoints: committed checkpoints "step-NNNNNN" (at least six digits, more past 999999),
/// in-progress saves ".tmp-step-NNNNNN-GUID", per-step save locks ".lock-step-NNNNNN", pruned checkpoints being deleted
/// ".deleting-step-NNNNNN-GUID", and invalid checkpoints moved aside by a re-save ".invalid-step-NNNNNN-TIME".
/// Steps are compared as numbers, never as strings.
/// </summary>
internal static class CheckpointNames
{
    private const string StepPrefix = "step-";
    private const string TempPrefix = ".tmp-step-";
    private const string LockPrefix = ".lock-step-";
    public const string DeletingPrefix = ".deleting-step-";

    public static string Folder(long step) => StepPrefix + Digits(step);

    public static string Temp(long step) => $"{TempPrefix}{Digits(step)}-{Guid.NewGuid():N}";

    public static string Lock(long step) => LockPrefix + Digits(step);

    public static string Deleting(long step) => $"{DeletingPrefix}{Digits(step)}-{Guid.NewGuid():N}";

    public static string Invalid(long step, DateTimeOffset now) =>
        $".invalid-step-{Digits(step)}-{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture)}";

    /// <summary>Step of a committed checkpoint folder; only the canonical spelling counts (step-000100, not step-0000100).</summary>
    public static bool TryParseFolder(string name, out long step) =>
        TryParseDigits(name, StepPrefix, name.Length, out step);

    /// <summary>Step of an in-progress save's temp folder ".tmp-step-NNNNNN-GUID".</summary>
    public static bool TryParseTemp(string name, out long step)
    {
        step = -1;
        if (!name.StartsWith(TempPrefix, StringComparison.Ordinal)) return false;
        int dash = name.IndexOf('-', TempPrefix.Length);
        return dash > 0 && TryParseDigits(name, TempPrefix, dash, out step);
    }

    private static string Digits(long step) => step.ToString("D6", CultureInfo.InvariantCulture);

    private static bool TryParseDigits(string name, string prefix, int end, out long step)
    {
        step = -1;
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var digits = name.AsSpan(prefix.Length, end - prefix.Length);
        foreach (var c in digits)
            if (c is < '0' or > '9') return false;
        return digits.Length >= 6
               && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out step)
               && Digits(step) == digits.ToString();
    }
}
