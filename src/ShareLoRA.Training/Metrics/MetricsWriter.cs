using System.Text.Json;

namespace ShareLoRA.Training.Metrics;

/// <summary>
/// Appends one JSON object per line to a run's metrics.jsonl and flushes after every line, so `sharelora plot`
/// or a tail can read a live run and a crash loses at most the line being written. Thread-safe.
/// </summary>
public sealed class MetricsWriter : IDisposable
{
    private static readonly JsonSerializerOptions FieldOptions = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly FileStream _stream;
    private readonly object _gate = new();

    /// <summary>Opens <paramref name="path"/> for appending (creating it and its directory when missing).</summary>
    public MetricsWriter(string path)
    {
        Path = path;
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir != null) Directory.CreateDirectory(dir);
        _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read | FileShare.Delete);
    }

    /// <summary>The file being written.</summary>
    public string Path { get; }

    /// <summary>Appends one step line: step, loss, lr, grad_norm, tokens_per_s, wall_s and eval_loss when present.</summary>
    public void Write(StepMetrics m) => WriteLine(w =>
    {
        w.WriteNumber("step", m.Step);
        Number(w, "loss", m.Loss);
        Number(w, "lr", m.LearningRate);
        Number(w, "grad_norm", m.GradNorm);
        Number(w, "tokens_per_s", m.TokensPerSecond);
        Number(w, "wall_s", m.WallSeconds);
        if (m.EvalLoss is { } eval) Number(w, "eval_loss", eval);
    });

    /// <summary>
    /// Appends an event line {"event": name, "step"?, "wall_s"?, ...fields}; readers keep events apart from steps.
    /// Field values are serialized with System.Text.Json (numbers, strings, bools, arrays, records).
    /// </summary>
    public void WriteEvent(string name, long? step = null, double? wallSeconds = null, IReadOnlyDictionary<string, object?>? fields = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        WriteLine(w =>
        {
            w.WriteString("event", name);
            if (step is { } s) w.WriteNumber("step", s);
            if (wallSeconds is { } wall) Number(w, "wall_s", wall);
            foreach (var (key, value) in fields ?? new Dictionary<string, object?>())
            {
                if (key is "event" or "step" or "wall_s")
                    throw new ArgumentException($"metrics event field '{key}' is reserved; pass it as a parameter");
                w.WritePropertyName(key);
                JsonSerializer.Serialize(w, value, value?.GetType() ?? typeof(object), FieldOptions);
            }
        });
    }

    public void Dispose()
    {
        lock (_gate) _stream.Dispose();
    }

    private void WriteLine(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        // One write per line, then flush to the OS: a concurrent reader sees whole lines or a partial last one.
        lock (_gate)
        {
            _stream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            _stream.Flush();
        }
    }

    // JSON has no NaN or infinity: spell them as strings, which MetricsLog reads back.
    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteString(name, value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
