using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>manifest.json to and from <see cref="CheckpointManifest"/>, with one-line errors naming the field.</summary>
internal static class CheckpointManifestJson
{
    // The same options as JobConfig.ToJson, so the embedded job reads back as the exact text that was saved.
    internal static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Write(CheckpointManifest m)
    {
        var root = new JsonObject
        {
            ["format"] = CheckpointManifest.Format,
            ["version"] = CheckpointManifest.Version,
            ["step"] = m.Step,
            ["created_utc"] = FormatTime(m.CreatedUtc),
            ["data_cursor"] = new JsonObject { ["epoch"] = m.DataCursor.Epoch, ["position"] = m.DataCursor.Position },
            ["rng"] = new JsonObject { ["scheme"] = m.Rng.Scheme, ["run_seed"] = m.Rng.RunSeed, ["step"] = m.Rng.Step },
            ["job"] = ParseJob(m.JobJson),
            ["plan"] = new JsonObject
            {
                ["stages"] = m.Plan.Stages,
                ["layers_per_stage"] = new JsonArray(m.Plan.LayersPerStage.Select(n => (JsonNode)n).ToArray()),
                ["schedule"] = m.Plan.Schedule,
                ["micro_batches"] = m.Plan.MicroBatches,
            },
            ["files"] = new JsonArray(m.Files.Select(f => (JsonNode)new JsonObject
            {
                ["name"] = f.Name,
                ["bytes"] = f.Bytes,
                ["sha256"] = f.Sha256,
            }).ToArray()),
            ["metrics"] = new JsonObject { ["last_loss"] = Number(m.Metrics.LastLoss), ["eval_loss"] = Number(m.Metrics.EvalLoss) },
        };
        return root.ToJsonString(Indented);
    }

    /// <summary>The job text as a JSON object node (it is embedded, not quoted).</summary>
    public static JsonObject ParseJob(string jobJson)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(jobJson); }
        catch (JsonException e) { throw new ArgumentException($"checkpoint job JSON is not valid JSON ({e.Message})"); }
        return node as JsonObject ?? throw new ArgumentException("checkpoint job JSON must be an object (pass JobConfig.ToJson())");
    }

    public static string FormatTime(DateTimeOffset t) => t.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    // JSON has no NaN or infinity; a diverged loss is still worth recording, so those go in as strings.
    private static JsonNode? Number(double? v) => v switch
    {
        null => null,
        { } d when double.IsFinite(d) => JsonValue.Create(d),
        { } d => JsonValue.Create(d.ToString(CultureInfo.InvariantCulture)),
    };

    public static CheckpointManifest Read(string json, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source} is not valid JSON (truncated?): {e.Message}"); }
        using var _ = doc;
        var root = doc.RootElement;
        InvalidDataException Bad(string what) => new($"{source}: {what}");
        if (root.ValueKind != JsonValueKind.Object) throw Bad("must be a JSON object");

        var format = String(root, "format", Bad);
        if (format != CheckpointManifest.Format) throw Bad($"format must be \"{CheckpointManifest.Format}\" (got \"{format}\")");
        var version = Long(root, "version", Bad);
        if (version != CheckpointManifest.Version) throw Bad($"version must be {CheckpointManifest.Version} (got {version}); written by a newer ShareLoRA?");

        var step = Long(root, "step", Bad);
        if (step < 0) throw Bad($"step must be >= 0 (got {step})");
        var createdText = String(root, "created_utc", Bad);
        if (!DateTime.TryParse(createdText, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var created) || created.Kind != DateTimeKind.Utc)
            throw Bad($"created_utc must be an ISO 8601 UTC time such as 2026-11-28T16:20:00.0000000Z (got \"{createdText}\")");

        var cursorEl = Object(root, "data_cursor", Bad);
        var cursor = new DataCursor(Int(cursorEl, "data_cursor.epoch", Bad), Int(cursorEl, "data_cursor.position", Bad));
        if (cursor.Epoch < 0 || cursor.Position < 0) throw Bad($"data_cursor must be non-negative (got {cursor})");

        var rngEl = Object(root, "rng", Bad);
        var rng = new CheckpointRngState(Long(rngEl, "rng.run_seed", Bad), Long(rngEl, "rng.step", Bad), String(rngEl, "rng.scheme", Bad));
        if (rng.Scheme != CheckpointRngState.CounterScheme)
            throw Bad($"rng.scheme must be \"{CheckpointRngState.CounterScheme}\" (got \"{rng.Scheme}\")");

        var jobEl = Object(root, "job", Bad);
        var jobJson = JsonNode.Parse(jobEl.GetRawText())!.ToJsonString(Indented);

        var planEl = Object(root, "plan", Bad);
        var layersEl = Array(planEl, "plan.layers_per_stage", Bad);
        var layers = layersEl.EnumerateArray()
            .Select(e => e.TryGetInt32(out var n) ? n : throw Bad("plan.layers_per_stage must hold integers")).ToArray();
        var plan = new CheckpointPlan(Int(planEl, "plan.stages", Bad), layers, String(planEl, "plan.schedule", Bad), Int(planEl, "plan.micro_batches", Bad));
        if (plan.Problem() is { } planProblem) throw Bad("plan." + planProblem);

        var files = new List<CheckpointFileEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        int i = 0;
        foreach (var f in Array(root, "files", Bad).EnumerateArray())
        {
            var at = $"files[{i++}]";
            if (f.ValueKind != JsonValueKind.Object) throw Bad($"{at} must be an object");
            var name = String(f, at + ".name", Bad);
            // A tampered manifest must not make verification or loading read outside the folder.
            if (CheckpointStore.FileNameProblem(name) is { } problem) throw Bad($"{at}.name: {problem}");
            if (!names.Add(name)) throw Bad($"{at}.name: '{name}' listed twice");
            var bytes = Long(f, at + ".bytes", Bad);
            if (bytes < 0) throw Bad($"{at}.bytes must be >= 0 (got {bytes})");
            var sha = String(f, at + ".sha256", Bad);
            if (sha.Length != 64 || !sha.All(char.IsAsciiHexDigitLower))
                throw Bad($"{at}.sha256 must be 64 lowercase hex digits (got \"{sha}\")");
            files.Add(new CheckpointFileEntry(name, bytes, sha));
        }

        var metricsEl = Object(root, "metrics", Bad);
        var metrics = new CheckpointMetrics(OptionalDouble(metricsEl, "metrics.last_loss", Bad), OptionalDouble(metricsEl, "metrics.eval_loss", Bad));

        return new CheckpointManifest(step, new DateTimeOffset(created), cursor, rng, jobJson, plan, files, metrics);
    }

    private static JsonElement Get(JsonElement parent, string path, Func<string, InvalidDataException> bad)
    {
        var name = path[(path.LastIndexOf('.') + 1)..];
        if (!parent.TryGetProperty(name, out var el) || el.ValueKind == JsonValueKind.Undefined) throw bad($"{path} missing");
        return el;
    }

    private static string String(JsonElement parent, string path, Func<string, InvalidDataException> bad)
    {
        var el = Get(parent, path, bad);
        return el.ValueKind == JsonValueKind.String ? el.GetString()! : throw bad($"{path} must be a string (got {el.ValueKind})");
    }

    private static long Long(JsonElement parent, string path, Func<string, InvalidDataException> bad)
    {
        var el = Get(parent, path, bad);
        return el.ValueKind == JsonValueKind.Number && el.TryGetInt64(out var v) ? v : throw bad($"{path} must be an integer (got {el.GetRawText()})");
    }

    private static int Int(JsonElement parent, string path, Func<string, InvalidDataException> bad)
    {
        var el = Get(parent, path, bad);
        return el.ValueKind == JsonValueKind.Number && el.TryGetInt32(out var v) ? v : throw bad($"{path} must be a 32-bit integer (got {el.GetRawText()})");
    }

    private static JsonElement Object(JsonElement parent, string path, Func<string, InvalidDataException> bad)
    {
        var el = Get(parent, path, bad);
        return el.ValueKind == JsonValueKind.Object ? el : throw bad($"{path} must be an object (got {el.ValueKind})");
    }

    private static JsonElement Array(JsonElement parent, string path, Func<string, InvalidDataException> bad)
    {
        var el = Get(parent, path, bad);
        return el.ValueKind == JsonValueKind.Array ? el : throw bad($"{path} must be an array (got {el.ValueKind})");
    }

    private static double? OptionalDouble(JsonElement parent, string path, Func<string, InvalidDataException> bad)
    {
        var name = path[(path.LastIndexOf('.') + 1)..];
        if (!parent.TryGetProperty(name, out var el) || el.ValueKind == JsonValueKind.Null) return null;
        if (el.ValueKind == JsonValueKind.Number) return el.GetDouble();
        if (el.ValueKind == JsonValueKind.String && el.GetString() is "NaN" or "Infinity" or "-Infinity")
            return double.Parse(el.GetString()!, CultureInfo.InvariantCulture);
        throw bad($"{path} must be a number, null, \"NaN\" or \"Infinity\" (got {el.GetRawText()})");
    }
}
