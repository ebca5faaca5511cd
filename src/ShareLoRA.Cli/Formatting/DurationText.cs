using System.Globalization;

namespace ShareLoRA.Cli.Formatting;

/// <summary>Short durations for progress lines: "42s", "6m18s", "1h02m", "2d03h"; "?" when unknown.</summary>
public static class DurationText
{
    public static string Format(TimeSpan? duration)
    {
        if (duration is not { } d || d < TimeSpan.Zero || d.TotalDays > 9999) return "?";
        var inv = CultureInfo.InvariantCulture;
        long seconds = (long)Math.Round(d.TotalSeconds);
        if (seconds < 60) return seconds.ToString(inv) + "s";
        if (seconds < 3600) return string.Format(inv, "{0}m{1:00}s", seconds / 60, seconds % 60);
        // Past an hour seconds are noise: round to the nearest minute (and past a day to the nearest hour).
        long minutes = (long)Math.Round(seconds / 60.0, MidpointRounding.AwayFromZero);
        if (minutes < 24 * 60) return string.Format(inv, "{0}h{1:00}m", minutes / 60, minutes % 60);
        long hours = (long)Math.Round(minutes / 60.0, MidpointRounding.AwayFromZero);
        return string.Format(inv, "{0}d{1:00}h", hours / 24, hours % 24);
    }
}
