using System.Text;
using System.Text.Json;

namespace ShareLoRA.Training.Trainer;

/// <summary>
/// Rewinds a run's metrics.jsonl to a checkpoint before a resume: keeps every line whose "step" is at most the
/// checkpoint's (and lines without a step), in order, and moves the rest (steps the crashed run computed after the
/// checkpoint, which the resumed run recomputes) to metrics.discarded.jsonl rather than deleting them. The rewrite goes
/// through a temp file and a rename, so a crash leaves the old or the new file, never a half one.
/// </summary>
public static class MetricsRewind
{
    public const string DiscardedFileName = "metrics.discarded.jsonl";

    /// <summary>What a rewind kept and dropped, and the wall clock of the last kept step line (to continue wall_s).</summary>
    public sealed record Result(int Kept, int Dropped, double LastWallSeconds);

    public static Result Rewind(string metricsPath, long step)
    {
        if (!File.Exists(metricsPath)) return new Result(0, 0, 0);
        var kept = new List<string>();
        var dropped = new List<string>();
        double wall = 0;
        foreach (var line in File.ReadAllLines(metricsPath))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            long? lineStep = null;
            double? lineWall = null;
            bool isEvent = false;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind == JsonValueKind.Object)
                {
                    var root = doc.RootElement;
                    if (root.TryGetProperty("step", out var s) && s.TryGetInt64(out var v)) lineStep = v;
                    if (root.TryGetProperty("wall_s", out var w) && w.ValueKind == JsonValueKind.Number) lineWall = w.GetDouble();
                    isEvent = root.TryGetProperty("event", out _);
                }
            }
            catch (JsonException)
            {
                // A half-written last line of the killed run: nothing to keep.
                dropped.Add(line);
                continue;
            }
            if (lineStep is { } n && n > step) dropped.Add(line);
            else
            {
                kept.Add(line);
                if (!isEvent && lineWall is { } ws) wall = ws;
            }
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(metricsPath))!;
        if (dropped.Count > 0)
            File.AppendAllLines(Path.Combine(dir, DiscardedFileName), dropped, new UTF8Encoding(false));
        var temp = metricsPath + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            var bytes = new UTF8Encoding(false).GetBytes(kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, metricsPath, overwrite: true);
        return new Result(kept.Count, dropped.Count, wall);
    }
}
