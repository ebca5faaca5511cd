using System.Globalization;
using System.Text.RegularExpressions;

namespace ShareLoRA.Cli.Formatting;

/// <summary>
/// Byte sizes as people write them on the command line and read them in tables.
/// Parsing: plain bytes ("1073741824"); SI units KB, MB, GB, TB (powers of 1000); IEC units KiB, MiB, GiB, TiB and the
/// single letters K, M, G, T (powers of 1024, as docker and java -Xmx read them); case-insensitive, a fraction and a
/// space before the unit allowed ("1.5 GiB"). Formatting: IEC units with three significant digits ("15.0 GiB").
/// </summary>
public static partial class ByteSize
{
    private static readonly string[] Units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

    /// <summary>Parses a size or throws a <see cref="UserError"/> naming <paramref name="optionName"/>.</summary>
    public static long Parse(string? text, string optionName)
    {
        if (TryParse(text, out var bytes)) return bytes;
        throw new UserError($"{optionName}: expected a size such as 80GB, 80GiB, 24G or 1073741824 bytes (got '{text}')");
    }

    /// <summary>Parses a size; false on an empty, negative, zero, unknown-unit or overflowing value.</summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (text is null) return false;
        var match = SizePattern().Match(text.Trim());
        if (!match.Success) return false;
        if (!decimal.TryParse(match.Groups["number"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            return false;
        decimal? multiplier = match.Groups["unit"].Value.ToUpperInvariant() switch
        {
            "" or "B" => 1m,
            "KB" => 1e3m, "MB" => 1e6m, "GB" => 1e9m, "TB" => 1e12m,
            "K" or "KIB" => 1024m, "M" or "MIB" => 1024m * 1024, "G" or "GIB" => 1024m * 1024 * 1024, "T" or "TIB" => 1024m * 1024 * 1024 * 1024,
            _ => null,
        };
        if (multiplier is null) return false;
        decimal value;
        try { value = decimal.Round(number * multiplier.Value, MidpointRounding.AwayFromZero); }
        catch (OverflowException) { return false; }
        if (value <= 0 || value > long.MaxValue) return false;
        bytes = (long)value;
        return true;
    }

    /// <summary>"0 B", "512 B", "4.00 KiB", "16.0 MiB", "131 GiB": IEC units, three significant digits.</summary>
    public static string Format(long bytes)
    {
        if (bytes < 0) return "-" + Format(-bytes);
        if (bytes < 1024) return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        // Rounding can carry to 1024 ("1024 KiB"): step up so the table never shows four integer digits for a unit.
        if (Math.Round(value, value < 10 ? 2 : value < 100 ? 1 : 0) >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        string format = value < 10 ? "0.00" : value < 100 ? "0.0" : "0";
        return value.ToString(format, CultureInfo.InvariantCulture) + " " + Units[unit];
    }

    [GeneratedRegex(@"^(?<number>\d+(\.\d+)?|\.\d+)\s*(?<unit>[A-Za-z]*)$")]
    private static partial Regex SizePattern();
}
