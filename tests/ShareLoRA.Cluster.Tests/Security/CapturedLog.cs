using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace ShareLoRA.Cluster.Tests.Security;

/// <summary>A Serilog logger that keeps rendered messages in memory, for asserting what a node logged.</summary>
internal sealed class CapturedLog : ILogEventSink
{
    private readonly List<string> _lines = [];

    public CapturedLog() => Logger = new LoggerConfiguration().MinimumLevel.Debug().WriteTo.Sink(this).CreateLogger();

    public ILogger Logger { get; }

    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToList(); } }

    public void Emit(LogEvent logEvent)
    {
        var text = logEvent.RenderMessage(System.Globalization.CultureInfo.InvariantCulture);
        lock (_lines) _lines.Add(text);
    }
}
