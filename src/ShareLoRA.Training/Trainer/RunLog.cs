using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;

namespace ShareLoRA.Training.Trainer;

/// <summary>
/// The run log of a training run: every event (Debug and up, per-step lines included) to OUTPUT/train.log, and
/// Information and up to the console when asked (the CLI shows steps in its own progress display).
/// </summary>
public static class RunLog
{
    public const string FileName = "train.log";

    private const string ConsoleTemplate = "{Timestamp:HH:mm:ss} {Message:lj}{NewLine}{Exception}";

    /// <summary>The run log, with Information and up also on the process console when <paramref name="console"/> is set.</summary>
    public static Logger Create(string outputDirectory, bool console) => Create(outputDirectory, console, null);

    /// <summary>
    /// The run log, with Information and up also written to <paramref name="console"/> when given (a CLI passes the
    /// writer of its progress display, so log lines do not tear a live progress bar).
    /// </summary>
    public static Logger Create(string outputDirectory, TextWriter? console) => Create(outputDirectory, false, console);

    private static Logger Create(string outputDirectory, bool console, TextWriter? consoleWriter)
    {
        Directory.CreateDirectory(outputDirectory);
        var config = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .WriteTo.File(Path.Combine(outputDirectory, FileName),
                outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} [{Level:u3}] {Message:lj}{NewLine}{Exception}");
        if (console)
            config = config.WriteTo.Console(restrictedToMinimumLevel: LogEventLevel.Information, outputTemplate: ConsoleTemplate);
        if (consoleWriter != null)
            config = config.WriteTo.Sink(new WriterSink(consoleWriter,
                new MessageTemplateTextFormatter(ConsoleTemplate, System.Globalization.CultureInfo.InvariantCulture)), LogEventLevel.Information);
        return config.CreateLogger();
    }

    /// <summary>Writes each event as one whole string, so a writer shared with other output never gets half a line.</summary>
    private sealed class WriterSink(TextWriter writer, ITextFormatter formatter) : ILogEventSink
    {
        public void Emit(LogEvent logEvent)
        {
            var text = new StringWriter();
            formatter.Format(logEvent, text);
            writer.Write(text.ToString());
            writer.Flush();
        }
    }
}
