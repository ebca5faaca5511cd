using Akka.Actor;
using MessagePack;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>Messages the <see cref="Coordinator"/> receives: job submission and status (from `sharelora submit` and
/// `sharelora status`) and the stages' reports.</summary>
public static class CoordinatorProtocol
{
    /// <summary>Run a job. <paramref name="JobJson"/> is <c>JobConfig.ToJson()</c> (absolute paths, overrides applied).
    /// With <paramref name="Resume"/> the job continues from the newest valid checkpoint in its output (`sharelora resume
    /// --seed`); without it an output holding checkpoints is refused. Answered by <see cref="JobAccepted"/> or
    /// <see cref="JobRejected"/>.</summary>
    [MessagePackObject]
    public sealed record SubmitJob([property: Key(0)] string JobJson, [property: Key(1)] bool Resume = false) : IClusterMessage;

    /// <summary>The job was taken; follow it with <see cref="GetJobStatus"/>.</summary>
    [MessagePackObject]
    public sealed record JobAccepted([property: Key(0)] string JobId, [property: Key(1)] int Steps) : IClusterMessage;

    /// <summary>The job was refused (invalid, or another job is running), with a one-line reason.</summary>
    [MessagePackObject]
    public sealed record JobRejected([property: Key(0)] string Reason) : IClusterMessage;

    /// <summary>Asks for the current (or last) job's <see cref="JobStatus"/>.</summary>
    [MessagePackObject]
    public sealed record GetJobStatus : IClusterMessage;

    /// <summary>A stage loaded its layers; <paramref name="Listener"/> is where it accepts the previous stage's link
    /// (null on the first stage).</summary>
    [MessagePackObject]
    public sealed record StageReady(
        [property: Key(0)] string JobId,
        [property: Key(1)] int StageIndex,
        [property: Key(2)] IActorRef Stage,
        [property: Key(3)] string Node,
        [property: Key(4)] string Device,
        [property: Key(5)] DataPlaneAddress? Listener) : IClusterMessage;

    /// <summary>A stage opened its data-plane links.</summary>
    [MessagePackObject]
    public sealed record StageConnected([property: Key(0)] string JobId, [property: Key(1)] int StageIndex) : IClusterMessage;

    /// <summary>A stage could not load, connect or run a step; the message names the worker and what went wrong.
    /// <paramref name="Recoverable"/> when a data-plane link broke (a neighbour's worker is likely gone): the coordinator
    /// recovers from the last checkpoint instead of failing the job.</summary>
    [MessagePackObject]
    public sealed record StageFailed(
        [property: Key(0)] string JobId,
        [property: Key(1)] int StageIndex,
        [property: Key(2)] string Message,
        [property: Key(3)] bool Recoverable = false) : IClusterMessage;

    /// <summary>
    /// A stage's share of one step: its partial gradients of the shared tensors (fp32), the squared norm of its own
    /// gradients, the last stage's summed token losses and target count, the seconds it spent computing, and the bytes
    /// it sent on the data plane.
    /// </summary>
    [MessagePackObject]
    public sealed record StepPartial(
        [property: Key(0)] string JobId,
        [property: Key(1)] int Step,
        [property: Key(2)] int StageIndex,
        [property: Key(3)] Dictionary<string, TensorPayload> SharedGradients,
        [property: Key(4)] double LocalGradNormSquared,
        [property: Key(5)] double LossSum,
        [property: Key(6)] long TargetTokens,
        [property: Key(7)] double BusySeconds,
        [property: Key(8)] long ActivationBytesSent) : IClusterMessage;

    /// <summary>A stage's share of a forward-only evaluation after <paramref name="Step"/> committed steps: the last
    /// stage's summed token losses (in batch order) and target count (0 on other stages), the seconds it computed and the
    /// bytes it sent on the data plane. <paramref name="RowPredictions"/>: a sequence-level head's per-row predictions
    /// over every eval batch in batch order (class ids as whole numbers, or STS-B scores; one float per row), for the
    /// task's dev metrics; null on other stages and for token-level heads. Key 7 was appended, so a message without it
    /// still reads (as null).</summary>
    [MessagePackObject]
    public sealed record EvalPartial(
        [property: Key(0)] string JobId,
        [property: Key(1)] int Step,
        [property: Key(2)] int StageIndex,
        [property: Key(3)] double LossSum,
        [property: Key(4)] long TargetTokens,
        [property: Key(5)] double BusySeconds,
        [property: Key(6)] long ActivationBytesSent,
        [property: Key(7)] float[]? RowPredictions = null) : IClusterMessage;

    /// <summary>A stage's per-layer adapter values at the end of the job.</summary>
    [MessagePackObject]
    public sealed record StageAdapter(
        [property: Key(0)] string JobId,
        [property: Key(1)] int StageIndex,
        [property: Key(2)] Dictionary<string, TensorPayload> Values) : IClusterMessage;

    /// <summary>Part <paramref name="Part"/> of <paramref name="Parts"/> of a stage's state after step <paramref name="Step"/>
    /// (answer to StageProtocol.CollectState), bounded in size.</summary>
    [MessagePackObject]
    public sealed record StageStatePart(
        [property: Key(0)] string JobId,
        [property: Key(1)] int StageIndex,
        [property: Key(2)] int Step,
        [property: Key(3)] int Part,
        [property: Key(4)] int Parts,
        [property: Key(5)] StatePart State) : IClusterMessage;
}
