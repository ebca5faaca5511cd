using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ShareLoRA.Training.Checkpoints;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// `sharelora checkpoints`: the checkpoints of a run with step, time, size, whether each verifies, and which one is the
/// best by eval loss (RUN/checkpoints/best.json).
/// </summary>
public static class CheckpointsCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run")
        {
            Description = "Run folder (the job's output); checkpoints are read from RUN/checkpoints.",
            Required = true,
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print a JSON array of {step, name, created_utc, bytes, valid, reason, eval_loss, best}.",
        };
        var command = new Command("checkpoints", "List a run's checkpoints, oldest first, verifying each manifest and SHA-256 checksum; the best by eval loss is marked \"best\".")
        {
            run, json,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(run)!;
            if (!Directory.Exists(dir)) throw new UserError($"--run {dir}: folder not found");
            var store = new CheckpointStore(dir);
            var list = store.List();
            var best = store.Best();
            if (parse.GetValue(json))
                Console.Out.WriteLine(JsonSerializer.Serialize(list.Select(c => new Dictionary<string, object?>
                {
                    ["step"] = c.Step,
                    ["name"] = c.Name,
                    ["created_utc"] = c.CreatedUtc?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
                    ["bytes"] = c.Bytes,
                    ["valid"] = c.IsValid,
                    ["reason"] = c.Verification.Reason,
                    ["eval_loss"] = EvalLoss(c),
                    ["best"] = best?.Step == c.Step,
                })));
            else
                PrintTable(store, list, best);
            return 0;
        });
        return command;
    }

    // JSON has no NaN: a non-finite eval loss (a diverged evaluation) is printed as null.
    private static double? EvalLoss(CheckpointInfo c) =>
        c.Verification.Manifest?.Metrics.EvalLoss is { } l && double.IsFinite(l) ? l : null;

    private static void PrintTable(CheckpointStore store, IReadOnlyList<CheckpointInfo> list, BestCheckpoint? best)
    {
        if (list.Count == 0)
        {
            Console.Out.WriteLine($"no checkpoints in {store.CheckpointsDirectory}");
            return;
        }
        var inv = CultureInfo.InvariantCulture;
        Console.Out.WriteLine($"{"step",10}  {"created (UTC)",-19}  {"size",10}  status");
        foreach (var c in list)
        {
            var created = c.CreatedUtc?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", inv) ?? "-";
            var status = c.IsValid ? "valid" : "INVALID: " + c.Verification.Reason;
            if (best?.Step == c.Step) status += string.Format(inv, ", best (eval loss {0:0.000000})", best.EvalLoss);
            Console.Out.WriteLine(string.Format(inv, "{0,10}  {1,-19}  {2,10}  {3}", c.Step, created, Size(c.Bytes), status));
        }
    }

    private static string Size(long bytes)
    {
        var inv = CultureInfo.InvariantCulture;
        return bytes < 1024 ? $"{bytes} B"
            : bytes < 1L << 20 ? (bytes / 1024.0).ToString("0.0", inv) + " KiB"
            : bytes < 1L << 30 ? (bytes / (1024.0 * 1024)).ToString("0.0", inv) + " MiB"
            : (bytes / (1024.0 * 1024 * 1024)).ToString("0.00", inv) + " GiB";
    }
}
