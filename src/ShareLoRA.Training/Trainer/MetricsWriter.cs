using System.Text;
using System.Text.Json;

namespace ShareLoRA.Training.Trainer;

/// <summary>
/// Appends one JSON object per line to a run's metrics.jsonl and flushes it, so a crashed or running job's progress can
/// be read (and plotted) at any time. Numbers are written round-trippable: equal runs give byte-equal loss fields.
/// </summary>
public sealed class MetricsWriter : IDisposable
{
    public const string FileName = "metrics.jsonl";
    private readonly StreamWriter _writer;

    /// <param name="path">The metrics file.</param>
    /// <param name="append">Continue the file (a resumed run) instead of starting it afresh.</param>
    public MetricsWriter(string path, bool append = false)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _writer = new StreamWriter(path, append, new UTF8Encoding(false));
    }

    /// <summary>A step record: step, loss, lr, grad_norm, clip_coefficient, tokens, target_tokens, tokens_per_s, wall_s [, eval_loss].</summary>
    public void Write(StepMetrics m) => Write(m, null);

    /// <summary>A step record followed by <paramref name="extra"/> fields in order (e.g. a cluster run's bubble_fraction,
    /// activation_bytes, adapter_sync_bytes); readers ignore fields they do not know.</summary>
    public void Write(StepMetrics m, IReadOnlyList<(string Name, double Value)>? extra) => WriteLine(w =>
    {
        w.WriteNumber("step", m.Step);
        w.WriteNumber("loss", m.Loss);
        w.WriteNumber("lr", m.LearningRate);
        w.WriteNumber("grad_norm", m.GradNorm);
        w.WriteNumber("clip_coefficient", m.ClipCoefficient);
        w.WriteNumber("tokens", m.Tokens);
        w.WriteNumber("target_tokens", m.TargetTokens);
        w.WriteNumber("tokens_per_s", Math.Round(m.TokensPerSecond, 1));
        w.WriteNumber("wall_s", Math.Round(m.WallSeconds, 3));
        if (m.EvalLoss is { } e) w.WriteNumber("eval_loss", e);
        foreach (var (name, value) in extra ?? []) w.WriteNumber(name, value);
    });

    /// <summary>An evaluation outside a step (before the first update): step 0 and eval_loss.</summary>
    public void WriteEval(int step, double evalLoss) => WriteLine(w =>
    {
        w.WriteNumber("step", step);
        w.WriteNumber("eval_loss", evalLoss);
    });

    /// <summary>
    /// An event record {"event": name, "step": step, ...fields} (e.g. "checkpoint", "resume"); fields are numbers or
    /// strings. Readers tell events from steps by the "event" field.
    /// </summary>
    public void WriteEvent(string name, long step, params (string Name, object Value)[] fields) => WriteLine(w =>
    {
        w.WriteString("event", name);
        w.WriteNumber("step", step);
        foreach (var (field, value) in fields)
            switch (value)
            {
                case int i: w.WriteNumber(field, i); break;
                case long l: w.WriteNumber(field, l); break;
                case double d: w.WriteNumber(field, Math.Round(d, 3)); break;
                default: w.WriteString(field, value.ToString()); break;
            }
    });

    private void WriteLine(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        _writer.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
        _writer.Flush();
    }

    public void Dispose() => _writer.Dispose();
}
