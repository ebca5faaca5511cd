using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// The manifest.json of a checkpoint: written last, it names the step, the data cursor, the RNG state, the job, the
/// plan, the metrics and every file with its size and SHA-256. A folder without a readable manifest is no checkpoint.
/// JSON: {"format": "sharelora-checkpoint", "version": 1, "step", "created_utc", "data_cursor": {"epoch", "position"},
/// "rng": {"scheme", "run_seed", "step"}, "job": {...}, "plan": {"stages", "layers_per_stage", "schedule",
/// "micro_batches"}, "files": [{"name", "bytes", "sha256"}], "metrics": {"last_loss", "eval_loss"}}.
/// </summary>
/// <param name="Step">Optimizer steps completed.</param>
/// <param name="CreatedUtc">When the save started writing.</param>
/// <param name="DataCursor">Where data reading continues.</param>
/// <param name="Rng">Randomness state.</param>
/// <param name="JobJson">The job, formatted as <see cref="Jobs.JobConfig.ToJson"/> formats it.</param>
/// <param name="Plan">The partition the run used.</param>
/// <param name="Files">Every tensor file of the checkpoint (the manifest itself is not listed).</param>
/// <param name="Metrics">Loss figures.</param>
public sealed record CheckpointManifest(
    long Step,
    DateTimeOffset CreatedUtc,
    DataCursor DataCursor,
    CheckpointRngState Rng,
    string JobJson,
    CheckpointPlan Plan,
    IReadOnlyList<CheckpointFileEntry> Files,
    CheckpointMetrics Metrics)
{
    public const string Format = "sharelora-checkpoint";
    public const int Version = 1;

    /// <summary>Sum of the listed files' sizes.</summary>
    public long FileBytes => Files.Sum(f => f.Bytes);

    public string ToJson() => CheckpointManifestJson.Write(this);

    /// <summary>Parses and checks a manifest; <paramref name="source"/> prefixes error messages.</summary>
    /// <exception cref="InvalidDataException">Not JSON (e.g. truncated), wrong format or version, a field missing or malformed.</exception>
    public static CheckpointManifest Parse(string json, string source) => CheckpointManifestJson.Read(json, source);
}
