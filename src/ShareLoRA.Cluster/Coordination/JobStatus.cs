using MessagePack;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Training.Metrics;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// The coordinator's current or last job as `sharelora status` and `submit --wait` show it. State is one of
/// Idle, WaitingForWorkers, Starting, Running, Recovering (a worker was lost: finding live workers, reloading the last
/// checkpoint, or waiting for a worker), Completed, Failed; Message says what it waits for or why it failed.
/// EvalLoss is the newest eval loss (data.eval_every) and EvalStep the step it was measured after (0 = before training);
/// EvalMetrics the task's metrics of that evaluation by their metrics.jsonl names ("dev_accuracy", ...), in report
/// order, or null without a task.
/// </summary>
[MessagePackObject]
public sealed record JobStatus(
    [property: Key(0)] string? JobId,
    [property: Key(1)] string? Name,
    [property: Key(2)] string State,
    [property: Key(3)] string Message,
    [property: Key(4)] int Step,
    [property: Key(5)] int Steps,
    [property: Key(6)] double? Loss,
    [property: Key(7)] double TokensPerSecond,
    [property: Key(8)] StageStatus[] Stages,
    [property: Key(9)] string? Output,
    [property: Key(10)] double? EvalLoss = null,
    [property: Key(11)] int? EvalStep = null,
    [property: Key(12)] Dictionary<string, double>? EvalMetrics = null) : IClusterMessage
{
    /// <summary>The metrics as the status carries them (insertion order is the report order); null stays null.</summary>
    public static Dictionary<string, double>? MetricsOf(EvalMetrics? metrics) =>
        metrics?.Values.ToDictionary(v => v.Name, v => v.Value);

    /// <summary>"accuracy 0.5000, f1 0.6667" for the progress and status lines; null without metrics.</summary>
    public string? DescribeEvalMetrics() => EvalMetrics is { Count: > 0 } m
        ? new EvalMetrics(m.Select(kv => (kv.Key, kv.Value)).ToList()).Describe() : null;

    public const string Idle = "Idle";
    public const string WaitingForWorkers = "WaitingForWorkers";
    public const string Starting = "Starting";
    public const string Running = "Running";
    public const string Recovering = "Recovering";
    public const string Completed = "Completed";
    public const string Failed = "Failed";

    /// <summary>True once the job will not change any more.</summary>
    [IgnoreMember]
    public bool IsFinished => State is Completed or Failed;
}

/// <summary>One stage of the running job: where it runs and which layers it holds.</summary>
[MessagePackObject]
public sealed record StageStatus(
    [property: Key(0)] int Index,
    [property: Key(1)] string Node,
    [property: Key(2)] int FirstLayer,
    [property: Key(3)] int EndLayer,
    [property: Key(4)] string Device);
