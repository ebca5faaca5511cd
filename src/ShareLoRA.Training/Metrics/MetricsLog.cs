using System.Globalization;
using System.Text.Json;

namespace ShareLoRA.Training.Metrics;

/// <summary>
/// The parsed metrics.jsonl of a run: one <see cref="StepMetrics"/> per optimizer step and the
/// <see cref="MetricsEvent"/> lines (those with an "event" field), each in file order, and every evaluation
/// (<see cref="Evaluations"/>): the eval_loss of step lines plus eval-only lines such as the baseline a trainer
/// writes before its first step ({"step": 0, "eval_loss": ...}), each with the line's dev_* task metrics when present.
/// Written by <see cref="MetricsWriter"/>; unknown fields are ignored so writers can add fields freely.
/// </summary>
public sealed record MetricsLog(IReadOnlyList<StepMetrics> Steps, IReadOnlyList<MetricsEvent> Events,
    IReadOnlyList<EvalPoint> Evaluations)
{
    /// <summary>The file name a run directory uses.</summary>
    public const string FileName = MetricsWriter.FileName;

    /// <summary>
    /// Reads a metrics file. Blank lines are skipped. A malformed line throws <see cref="InvalidDataException"/>
    /// naming the file, the line number and the field, except an unterminated last line that does not parse: a
    /// trainer still running may be in the middle of writing it, so it is left for the next read.
    /// </summary>
    public static MetricsLog Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: metrics file not found", path);
        string text;
        // ReadWrite sharing: reading must work while a trainer holds the file open for appending.
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream))
            text = reader.ReadToEnd();
        return Parse(text, path);
    }

    /// <summary>Parses the text of a metrics file; <paramref name="source"/> names it in errors.</summary>
    public static MetricsLog Parse(string text, string source)
    {
        var steps = new List<StepMetrics>();
        var events = new List<MetricsEvent>();
        var evaluations = new List<EvalPoint>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (string.IsNullOrWhiteSpace(line)) continue;
            bool unterminated = i == lines.Length - 1;
            try
            {
                switch (ParseLine(line, source, i + 1))
                {
                    case StepMetrics s:
                        steps.Add(s);
                        if (s.EvalLoss is double sl) evaluations.Add(new EvalPoint(s.Step, sl, s.EvalMetrics));
                        break;
                    case EvalPoint p: evaluations.Add(p); break;
                    case MetricsEvent e: events.Add(e); break;
                }
            }
            catch (InvalidDataException) when (unterminated)
            {
                // Half-written final line of a live run: not an error, just not there yet.
            }
        }
        return new MetricsLog(steps, events, evaluations);
    }

    /// <summary>
    /// One line: a <see cref="MetricsEvent"/> when it has an "event" field, an <see cref="EvalPoint"/> when it has
    /// eval_loss but no training loss, else a <see cref="StepMetrics"/>.
    /// </summary>
    public static object ParseLine(string line, string source, int lineNumber)
    {
        string where = $"{source}:{lineNumber}";
        JsonDocument doc;
        try { doc = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new InvalidDataException($"{where}: not valid JSON ({FirstLine(e.Message)})"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{where}: expected a JSON object, found {root.ValueKind.ToString().ToLowerInvariant()}");

            if (root.TryGetProperty("event", out var name))
            {
                if (name.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{where}: field 'event' must be a string (got {name.GetRawText()})");
                return new MetricsEvent(name.GetString()!, OptionalStep(), OptionalNumber("wall_s"), line);
            }

            if (!root.TryGetProperty("loss", out _) && OptionalNumber("eval_loss") is double evalOnly)
                return new EvalPoint(OptionalStep() ?? throw Missing("step"), evalOnly, EvalMetricFields());

            long step = OptionalStep() ?? throw Missing("step");
            if (step > int.MaxValue) throw new InvalidDataException($"{where}: field 'step' is too large for a step count (got {step})");
            return new StepMetrics(
                Step: (int)step,
                Loss: Number("loss"),
                LearningRate: Number("lr"),
                GradNorm: Number("grad_norm"),
                ClipCoefficient: OptionalNumber("clip_coefficient"),
                Tokens: OptionalCount("tokens"),
                TargetTokens: OptionalCount("target_tokens"),
                TokensPerSecond: Number("tokens_per_s"),
                WallSeconds: Number("wall_s"),
                EvalLoss: OptionalNumber("eval_loss"),
                BubbleFraction: OptionalNumber("bubble_fraction"),
                ActivationBytes: OptionalCount("activation_bytes"),
                AdapterSyncBytes: OptionalCount("adapter_sync_bytes"),
                EvalMetrics: EvalMetricFields());

            // The task's eval metrics: every "dev_*" field, in line order; null when there is none.
            EvalMetrics? EvalMetricFields()
            {
                var values = new List<(string, double)>();
                foreach (var property in root.EnumerateObject())
                    if (property.Name.StartsWith(EvalMetrics.FieldPrefix, StringComparison.Ordinal))
                        values.Add((property.Name, Number(property.Name)));
                return values.Count > 0 ? new EvalMetrics(values) : null;
            }

            InvalidDataException Missing(string field) => new($"{where}: missing field '{field}'");

            long? OptionalStep()
            {
                if (!root.TryGetProperty("step", out var v) || v.ValueKind == JsonValueKind.Null) return null;
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var step) || step < 0)
                    throw new InvalidDataException($"{where}: field 'step' must be a non-negative integer (got {v.GetRawText()})");
                return step;
            }

            double Number(string field) => OptionalNumber(field) ?? throw Missing(field);

            long? OptionalCount(string field)
            {
                if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                // Writers may emit whole numbers as 1.0e6 (a double extra field): accept any integral value.
                if (v.ValueKind == JsonValueKind.Number)
                {
                    if (v.TryGetInt64(out var n) && n >= 0) return n;
                    if (v.TryGetDouble(out var d) && d >= 0 && d <= long.MaxValue && Math.Floor(d) == d) return (long)d;
                }
                throw new InvalidDataException($"{where}: field '{field}' must be a non-negative integer (got {v.GetRawText()})");
            }

            double? OptionalNumber(string field)
            {
                if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
                // NaN and infinities have no JSON literal; the writer spells them as strings.
                if (v.ValueKind == JsonValueKind.String &&
                    double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) &&
                    (double.IsNaN(d) || double.IsInfinity(d)))
                    return d;
                throw new InvalidDataException($"{where}: field '{field}' must be a number (got {v.GetRawText()})");
            }
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].TrimEnd('\r');
}
