using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace ShareLoRA.Training.Trainer;

/// <summary>
/// The run log of a training run: every event (Debug and up, per-step lines included) to OUTPUT/train.log, and
/// Information and up to the console when asked (the CLI prints its own plain progress lines for steps).
/// </summary>
public static class RunLog
{
    public const string FileName = "train.log";

    public static Logger Create(string outputDirectory, bool console)
    {
        Directory.CreateDirectory(outputDirectory);
        var config = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .WriteTo.File(Path.Combine(outputDirectory, FileName),
                outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} [{Level:u3}] {Message:lj}{NewLine}{Exception}");
        if (console)
            config = config.WriteTo.Console(restrictedToMinimumLevel: LogEventLevel.Information,
                outputTemplate: "{Timestamp:HH:mm:ss} {Message:lj}{NewLine}{Exception}");
        return config.CreateLogger();
    }
}
