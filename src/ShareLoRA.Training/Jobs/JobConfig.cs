using System.Text.Json.Nodes;

namespace ShareLoRA.Training.Jobs;

/// <summary>
/// One training job, loaded once from a JSON job file (snake_case fields) and validated at load; immutable afterwards.
/// Paths are absolute (relative ones were resolved against the job file's folder). Defaults follow SHARELORA.md and are
/// documented on each field and in jobs/example-llama3-8b-share-a.json.
/// </summary>
/// <param name="Name">Run name: letters, digits, '.', '_' or '-'. Default: the job file's name without extension.</param>
/// <param name="Model">Hugging Face model directory (config.json, *.safetensors, tokenizer.json). Required.</param>
/// <param name="Data">The "data" section.</param>
/// <param name="Adapter">The "adapter" section.</param>
/// <param name="Optim">The "optim" section.</param>
/// <param name="Batch">The "batch" section.</param>
/// <param name="Pipeline">The "pipeline" section.</param>
/// <param name="Checkpoint">The "checkpoint" section.</param>
/// <param name="Steps">Optimizer steps to train (default 3000, the paper's LLaMA-3-8B runs). 0 while <see cref="Epochs"/> is
/// set and not yet resolved against the prepared data (<see cref="JobSteps.Resolve(JobConfig, int)"/>).</param>
/// <param name="Seed">Run seed (default 42): data order, hold-out split and dropout masks derive from it.</param>
/// <param name="Output">Run folder for checkpoints, metrics and logs. Default: runs/NAME beside the job file.</param>
/// <param name="Device">"cpu" (default), "cuda" or "cuda:N".</param>
/// <param name="Dtype">Base-model compute dtype: "fp32" (default; bf16 matmul is very slow on CPU), "bf16" or "fp16".</param>
public sealed record JobConfig(
    string Name,
    string Model,
    DataConfig Data,
    AdapterConfig Adapter,
    OptimConfig Optim,
    BatchConfig Batch,
    int Steps,
    long Seed,
    string Output,
    string Device,
    string Dtype,
    PipelineConfig Pipeline,
    CheckpointConfig Checkpoint)
{
    public const int DefaultSteps = 3000;
    public const long DefaultSeed = 42;
    public const string DefaultDevice = "cpu";
    public const string DefaultDtype = "fp32";
    public static readonly IReadOnlyList<string> Dtypes = ["fp32", "bf16", "fp16"];

    /// <summary>The "task" section, or null for causal-LM training on text/instruction data (the default).</summary>
    public TaskConfig? Task { get; init; }

    /// <summary>
    /// "epochs": train this many passes over the prepared training examples instead of a fixed "steps" (exactly one of
    /// the two may be given). Null for a steps job and once resolved: <see cref="JobSteps.Resolve(JobConfig, int)"/> turns it into
    /// <see cref="Steps"/> after data preparation, and the run's job.json records those steps.
    /// </summary>
    public int? Epochs { get; init; }

    /// <summary>Sequences per optimizer step (micro_batch_size x micro_batches).</summary>
    public int SequencesPerStep => Batch.MicroBatchSize * Batch.MicroBatches;

    /// <summary>Reads and validates a job file, applying "key.path=value" overrides (--set) first.</summary>
    /// <exception cref="JobConfigException">Unreadable file, bad JSON, unknown field, bad value or bad override.</exception>
    public static JobConfig Load(string path, IEnumerable<string>? overrides = null)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new JobConfigException($"{path}: cannot read the job file ({e.Message})");
        }
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var fallbackName = Path.GetFileNameWithoutExtension(path);
        return JobConfigReader.Read(text, path, folder, fallbackName, overrides ?? []);
    }

    /// <summary>
    /// Parses job JSON that does not come from a file (e.g. the copy a checkpoint persists). <paramref name="sourceName"/>
    /// prefixes error messages; relative paths resolve against <paramref name="baseDirectory"/>.
    /// </summary>
    public static JobConfig Parse(string json, string sourceName, string baseDirectory, IEnumerable<string>? overrides = null) =>
        JobConfigReader.Read(json, sourceName, Path.GetFullPath(baseDirectory), "job", overrides ?? []);

    /// <summary>
    /// The whole config as job-file JSON, every field written (defaults included, paths absolute). Parsing it again gives
    /// an equal config and the same JSON; checkpoints persist it, and comparing two configs means comparing this text.
    /// </summary>
    public string ToJson() => JobConfigWriter.Write(this).ToJsonString(JobConfigWriter.Indented);

    /// <summary>The JSON tree of <see cref="ToJson"/>.</summary>
    public JsonObject ToJsonObject() => JobConfigWriter.Write(this);
}
