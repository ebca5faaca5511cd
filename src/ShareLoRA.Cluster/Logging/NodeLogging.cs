using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace ShareLoRA.Cluster.Logging;

/// <summary>
/// The one Serilog setup of every node: a human-readable console and a compact-JSON file per node under the logs
/// directory. Every event carries Node (role@host:port) and, when logged through <see cref="ForStage"/>, Stage.
/// Akka's own events reach the same pipeline through Akka.Logger.Serilog (base.hocon: akka.loggers).
/// </summary>
public static class NodeLogging
{
    private const string ConsoleTemplate =
        "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {Node}{StageTag} {SourceName}: {Message:lj}{NewLine}{Exception}";

    private static readonly NodeEnricher Enricher = new();

    /// <summary>The current node label (role@host:port), as stamped on every event.</summary>
    public static string Node => Enricher.Label;

    /// <summary>
    /// Configures the global <see cref="Log.Logger"/> and returns the path of the JSON log file. The file is named
    /// after role, host and port; with port 0 (any free port) the process id stands in, since the port is not known
    /// before Akka binds. Call <see cref="SetNode"/> once the real address is known.
    /// </summary>
    public static string Configure(string role, string host, int port, string logsDirectory,
        LogEventLevel consoleLevel = LogEventLevel.Information)
    {
        Directory.CreateDirectory(logsDirectory);
        SetNode(role, host, port);
        var portPart = port > 0 ? port.ToString(System.Globalization.CultureInfo.InvariantCulture) : "pid" + Environment.ProcessId;
        var file = Path.Combine(logsDirectory, $"{role}-{host}-{portPart}.clef");
        Log.Logger = new LoggerConfiguration()
            .MinimumLevel.Debug()
            .MinimumLevel.Override("Akka", LogEventLevel.Information)
            .Enrich.With(Enricher)
            .Enrich.FromLogContext()
            // Console-only helper properties live in a sub-logger so the JSON file keeps just Node and Stage.
            .WriteTo.Logger(console => console
                .Enrich.With(new ConsoleLabels())
                .WriteTo.Console(outputTemplate: ConsoleTemplate, restrictedToMinimumLevel: consoleLevel,
                    formatProvider: System.Globalization.CultureInfo.InvariantCulture))
            .WriteTo.File(new CompactJsonFormatter(), file)
            .CreateLogger();
        return file;
    }

    /// <summary>Sets the Node label stamped on every event from now on.</summary>
    public static void SetNode(string role, string host, int port) => Enricher.Label = $"{role}@{host}:{port}";

    /// <summary>A logger whose events carry the stage index (console shows " stage=N").</summary>
    public static ILogger ForStage(int stage) => Log.ForContext("Stage", stage);

    /// <summary>Flushes and closes the file sink (call at process exit).</summary>
    public static void Close() => Log.CloseAndFlush();

    /// <summary>Stamps the Node label on every event.</summary>
    private sealed class NodeEnricher : ILogEventEnricher
    {
        private volatile string _label = "node";

        public string Label
        {
            get => _label;
            set => _label = value;
        }

        public void Enrich(LogEvent logEvent, ILogEventPropertyFactory factory)
        {
            logEvent.AddPropertyIfAbsent(factory.CreateProperty("Node", _label));
        }
    }

    /// <summary>Console-friendly " stage=N" and the short SourceName (last part of SourceContext).</summary>
    private sealed class ConsoleLabels : ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, ILogEventPropertyFactory factory)
        {
            var stageTag = logEvent.Properties.TryGetValue("Stage", out var stage) ? " stage=" + stage : "";
            logEvent.AddOrUpdateProperty(factory.CreateProperty("StageTag", stageTag));
            var source = logEvent.Properties.TryGetValue("SourceContext", out var ctx) && ctx is ScalarValue { Value: string s }
                ? s[(s.LastIndexOf('.') + 1)..]
                : "-";
            // Akka logs from string sources (cluster core, remoting) under a placeholder class name.
            if (source == "DummyClassForStringSources") source = "akka";
            logEvent.AddOrUpdateProperty(factory.CreateProperty("SourceName", source));
        }
    }
}
