using System.Globalization;
using ShareLoRA.Cli.Formatting;

namespace ShareLoRA.Cli.Progress;

/// <summary>The text of one progress report, shared by the plain lines and the live bar's description.</summary>
internal static class ProgressLine
{
    /// <summary>Plain line: "step 120/3000 (4.0%)  loss 1.2346  1,523 tok/s  elapsed 2m36s  eta 1h02m  lr 2.0e-4".</summary>
    public static string Format(long step, long total, double loss, double tokensPerSecond, TimeSpan elapsed, TimeSpan? eta, string? extra)
    {
        var inv = CultureInfo.InvariantCulture;
        string percent = total > 0 ? (100.0 * step / total).ToString("0.0", inv) + "%" : "?";
        string text = $"step {step.ToString(inv)}/{total.ToString(inv)} ({percent})  loss {Number(loss, "0.0000")}  " +
                      $"{Number(tokensPerSecond, "#,0")} tok/s  elapsed {DurationText.Format(elapsed)}  eta {DurationText.Format(eta)}";
        return WithExtra(text, extra);
    }

    /// <summary>Beside the live bar, which shows the percentage itself: "step 120/3000  loss 1.2346  1,523 tok/s  eta 1h02m  lr 2.0e-4".</summary>
    public static string Figures(long step, long total, double loss, double tokensPerSecond, TimeSpan? eta, string? extra)
    {
        var inv = CultureInfo.InvariantCulture;
        string text = $"step {step.ToString(inv)}/{total.ToString(inv)}  loss {Number(loss, "0.0000")}  " +
                      $"{Number(tokensPerSecond, "#,0")} tok/s  eta {DurationText.Format(eta)}";
        return WithExtra(text, extra);
    }

    /// <summary>Plain line of an item: "[3/57] anatomy: accuracy 0.4815 (65/135)".</summary>
    public static string Item(long done, long total, string text) =>
        string.Create(CultureInfo.InvariantCulture, $"[{done}/{total}] {text}");

    /// <summary>Beside the live bar: the item line and the ETA, "[3/57] anatomy: accuracy 0.4815 (65/135)  eta 4m10s".</summary>
    public static string ItemFigures(long done, long total, string text, TimeSpan? eta) => $"{Item(done, total, text)}  eta {DurationText.Format(eta)}";

    private static string WithExtra(string text, string? extra) => string.IsNullOrWhiteSpace(extra) ? text : text + "  " + extra.Trim();

    private static string Number(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : value.ToString(CultureInfo.InvariantCulture);
}
