using System.Globalization;
using System.Text.Json;

namespace ShareLoRA.Training.Metrics;

/// <summary>
/// Appends one JSON object per line to a run's metrics.jsonl and flushes after every line, so `sharelora plot`,
/// `sharelora summary` or a tail can read a live run and a crash loses at most the line being written. Losses are
/// written round-trippable (equal runs give byte-equal loss fields); NaN and infinities, which JSON cannot spell, as
/// strings that <see cref="MetricsLog"/> reads back. Thread-safe.
/// </summary>
public sealed class MetricsWriter : IDisposable
{
    /// <summary>The file name a run directory uses (the same as <see cref="MetricsLog.FileName"/>).</summary>
    public const string FileName = "metrics.jsonl";

    private static readonly JsonSerializerOptions FieldOptions = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly FileStream _stream;
    private readonly object _gate = new();

    /// <summary>Opens <paramref name="path"/> (creating it and its directory when missing).</summary>
    /// <param name="path">The metrics file.</param>
    /// <param name="append">Continue the file (a resumed run, several trainings into one folder) instead of starting it afresh.</param>
    public MetricsWriter(string path, bool append = false)
    {
        Path = path;
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path));
        if (dir != null) Directory.CreateDirectory(dir);
        // Read and Delete sharing: plot/summary read a live run, and a resume may rewind (replace) the file of a dead one.
        _stream = new FileStream(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read | FileShare.Delete);
    }

    /// <summary>The file being written.</summary>
    public string Path { get; }

    /// <summary>
    /// Appends a step line: step, loss, lr, grad_norm, then clip_coefficient, tokens, target_tokens when known,
    /// tokens_per_s, wall_s, then eval_loss and the eval metrics (dev_*), bubble_fraction, activation_bytes, adapter_sync_bytes when known, then
    /// <paramref name="extra"/> fields in order (readers ignore fields they do not know).
    /// </summary>
    /// <exception cref="ArgumentException">An extra field repeats a field the line already has.</exception>
    public void Write(StepMetrics m, IReadOnlyList<(string Name, double Value)>? extra = null) => WriteLine(w =>
    {
        var written = new HashSet<string>(StringComparer.Ordinal);
        void Num(string name, double value) { written.Add(name); Number(w, name, value); }
        void Int(string name, long value) { written.Add(name); w.WriteNumber(name, value); }

        Int("step", m.Step);
        Num("loss", m.Loss);
        Num("lr", m.LearningRate);
        Num("grad_norm", m.GradNorm);
        if (m.ClipCoefficient is { } clip) Num("clip_coefficient", clip);
        if (m.Tokens is { } tokens) Int("tokens", tokens);
        if (m.TargetTokens is { } targets) Int("target_tokens", targets);
        // Throughput and wall clock are rounded: their last digits are noise and would only make equal runs differ.
        Num("tokens_per_s", Math.Round(m.TokensPerSecond, 1));
        Num("wall_s", Math.Round(m.WallSeconds, 3));
        if (m.EvalLoss is { } eval) Num("eval_loss", eval);
        foreach (var (name, value) in m.EvalMetrics?.Values ?? [])
        {
            if (written.Contains(name)) throw new ArgumentException($"metrics eval field '{name}' is written twice");
            Num(name, value);
        }
        if (m.BubbleFraction is { } bubble) Num("bubble_fraction", bubble);
        if (m.ActivationBytes is { } activation) Int("activation_bytes", activation);
        if (m.AdapterSyncBytes is { } sync) Int("adapter_sync_bytes", sync);
        foreach (var (name, value) in extra ?? [])
        {
            if (!written.Add(name)) throw new ArgumentException($"metrics step field '{name}' is written twice; it is already part of the step");
            Number(w, name, value);
        }
    });

    /// <summary>
    /// An evaluation outside a step (the baseline before the first update): {"step", "eval_loss"}, then the task's eval
    /// metrics (dev_*) when given, as a step line carries them.
    /// </summary>
    public void WriteEval(long step, double evalLoss, EvalMetrics? metrics = null) => WriteLine(w =>
    {
        w.WriteNumber("step", step);
        Number(w, "eval_loss", evalLoss);
        foreach (var (name, value) in metrics?.Values ?? [])
        {
            if (name is "step" or "eval_loss") throw new ArgumentException($"metrics eval field '{name}' is reserved");
            Number(w, name, value);
        }
    });

    /// <summary>
    /// An event line {"event": name, "step"?, ...fields} (e.g. "checkpoint", "resume"); readers keep events apart from
    /// steps. Field values: numbers, strings, bools, or anything System.Text.Json serializes (arrays, records).
    /// </summary>
    /// <exception cref="ArgumentException">A field is named "event", "step" or "wall_s" (pass those as parameters).</exception>
    public void WriteEvent(string name, long? step, params (string Name, object? Value)[] fields) =>
        WriteEvent(name, step, wallSeconds: null, fields);

    /// <summary>An event line {"event": name, "step"?, "wall_s"?, ...fields}; see the other overload.</summary>
    public void WriteEvent(string name, long? step = null, double? wallSeconds = null, IReadOnlyDictionary<string, object?>? fields = null) =>
        WriteEvent(name, step, wallSeconds, (fields ?? new Dictionary<string, object?>()).Select(kv => (kv.Key, kv.Value)));

    private void WriteEvent(string name, long? step, double? wallSeconds, IEnumerable<(string Name, object? Value)> fields)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var list = fields.ToList();
        foreach (var (key, _) in list)
            if (key is "event" or "step" or "wall_s")
                throw new ArgumentException($"metrics event field '{key}' is reserved; pass it as a parameter");
        WriteLine(w =>
        {
            w.WriteString("event", name);
            if (step is { } s) w.WriteNumber("step", s);
            if (wallSeconds is { } wall) Number(w, "wall_s", wall);
            foreach (var (key, value) in list)
            {
                switch (value)
                {
                    case double d: Number(w, key, d); break;
                    case float f: Number(w, key, f); break;
                    default:
                        w.WritePropertyName(key);
                        JsonSerializer.Serialize(w, value, value?.GetType() ?? typeof(object), FieldOptions);
                        break;
                }
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
        else w.WriteString(name, value.ToString(CultureInfo.InvariantCulture));
    }
}
