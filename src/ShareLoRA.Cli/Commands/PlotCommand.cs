using System.CommandLine;
using ShareLoRA.Cli.Plotting;
using ShareLoRA.Training.Metrics;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora plot`: draws loss.png, lr.png and throughput.png from a run directory's metrics.jsonl.</summary>
public static class PlotCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run")
        {
            HelpName = "DIR",
            Description = "Run directory holding metrics.jsonl (works on a live run: a half-written last line is ignored).",
            Required = true,
        };
        var output = new Option<string?>("--out")
        {
            HelpName = "DIR",
            Description = "Directory for the PNG files (default: the run directory).",
        };
        var command = new Command("plot", "Plot a run's metrics.jsonl: loss.png (train and eval loss), lr.png and throughput.png.")
        {
            run, output,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(run)!;
            if (!Directory.Exists(dir)) throw new UserError($"--run: directory not found: {dir}");
            var path = Path.Combine(dir, MetricsLog.FileName);
            var log = MetricsLog.Read(path);
            if (log.Steps.Count == 0) throw new UserError($"{path}: no step records to plot");
            var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));
            var files = MetricsPlots.Write(log, parse.GetValue(output) ?? dir, name);
            foreach (var file in files) Console.Out.WriteLine(file);
            return 0;
        });
        return command;
    }
}
