using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ShareLoRA.Training.Jobs;

/// <summary><see cref="JobConfig"/> -> job-file JSON with every field, in the job file's order.</summary>
internal static class JobConfigWriter
{
    public static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // paths and names stay readable
    };

    public static JsonObject Write(JobConfig job)
    {
        var json = WriteCommon(job);
        // Written only when present, so causal-LM jobs (and their checkpoints' job.json) read exactly as before.
        if (job.Task is { } task) json["task"] = WriteTask(task);
        return json;
    }

    // GLUE: kind and name, as before; E2E: kind and label_smoothing (no name).
    private static JsonObject WriteTask(TaskConfig task)
    {
        var json = new JsonObject { ["kind"] = task.Kind };
        if (task.Name is not null) json["name"] = task.Name;
        if (task.Kind == TaskConfig.E2e) json["label_smoothing"] = task.LabelSmoothing;
        return json;
    }

    private static JsonObject WriteCommon(JobConfig job) => new()
    {
        ["name"] = job.Name,
        ["model"] = job.Model,
        ["data"] = new JsonObject
        {
            ["train"] = job.Data.Train,
            ["eval"] = job.Data.Eval,
            ["format"] = job.Data.Format,
            ["source_max_len"] = job.Data.SourceMaxLen,
            ["target_max_len"] = job.Data.TargetMaxLen,
            ["train_on_source"] = job.Data.TrainOnSource,
            ["eval_every"] = job.Data.EvalEvery,
            ["eval_max_examples"] = job.Data.EvalMaxExamples,
            ["skip_bad_lines"] = job.Data.SkipBadLines,
            ["shuffle"] = job.Data.Shuffle,
            ["eval_fraction"] = job.Data.EvalFraction,
            ["group_by_length"] = job.Data.GroupByLength,
        },
        ["adapter"] = new JsonObject
        {
            ["method"] = job.Adapter.Method,
            ["rank"] = job.Adapter.Rank,
            ["alpha"] = job.Adapter.Alpha,
            ["dropout"] = job.Adapter.Dropout,
            ["targets"] = new JsonArray(job.Adapter.Targets.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
            ["share"] = new JsonObject(job.Adapter.Share.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)JsonValue.Create(kv.Value)))),
        },
        ["optim"] = new JsonObject
        {
            ["lr"] = job.Optim.Lr,
            ["weight_decay"] = job.Optim.WeightDecay,
            ["betas"] = new JsonArray(job.Optim.Betas.Beta1, job.Optim.Betas.Beta2),
            ["eps"] = job.Optim.Eps,
            ["schedule"] = job.Optim.Schedule,
            ["warmup_steps"] = job.Optim.WarmupSteps,
            ["max_grad_norm"] = job.Optim.MaxGradNorm,
        },
        ["batch"] = new JsonObject
        {
            ["micro_batch_size"] = job.Batch.MicroBatchSize,
            ["micro_batches"] = job.Batch.MicroBatches,
        },
        [job.Epochs is null ? "steps" : "epochs"] = job.Epochs ?? job.Steps, // an unresolved epochs job keeps its epochs
        ["seed"] = job.Seed,
        ["output"] = job.Output,
        ["device"] = job.Device,
        ["dtype"] = job.Dtype,
        ["pipeline"] = new JsonObject
        {
            ["stages"] = job.Pipeline.Stages,
            ["schedule"] = job.Pipeline.Schedule,
            ["wire_dtype"] = job.Pipeline.WireDtype,
        },
        ["checkpoint"] = new JsonObject
        {
            ["every"] = job.Checkpoint.Every,
            ["keep"] = job.Checkpoint.Keep,
        },
    };
}
