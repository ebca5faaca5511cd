using Akka.Actor;
using MessagePack;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Training.Evaluation;

namespace ShareLoRA.Cluster.Evaluation;

/// <summary>
/// Messages of evaluation through the cluster: a client opens a session at the seed's <see cref="EvalService"/>, the
/// <see cref="EvalSession"/> has worker node guardians spawn forward-only <see cref="EvalStageActor"/>s, and then
/// forwards each request to every stage. Stage messages name their session so a late message of an ended session is dropped.
/// </summary>
public static class EvalProtocol
{
    /// <summary>
    /// Client to <see cref="EvalService"/>: split the model in <paramref name="ModelDir"/> (same path on every worker) over
    /// up to <paramref name="Stages"/> Up workers, with the adapter in <paramref name="AdapterDir"/> (null = none).
    /// <paramref name="Client"/> is watched: the session ends when it goes away, or after
    /// <paramref name="IdleTimeoutSeconds"/> without a request. Answered to <paramref name="Client"/> directly:
    /// <see cref="SessionStarting"/> at once, then <see cref="SessionOpened"/> or <see cref="SessionFailed"/>.
    /// </summary>
    [MessagePackObject]
    public sealed record OpenSession(
        [property: Key(0)] string ModelDir,
        [property: Key(1)] string? AdapterDir,
        [property: Key(2)] int Stages,
        [property: Key(3)] int NumLayers,
        [property: Key(4)] IActorRef Client,
        [property: Key(5)] double IdleTimeoutSeconds) : IClusterMessage;

    /// <summary>The session has asked <paramref name="Stages"/> workers to load their stages (loading a big model takes minutes).</summary>
    [MessagePackObject]
    public sealed record SessionStarting([property: Key(0)] int Stages) : IClusterMessage;

    /// <summary>The session is ready: send it <see cref="Forward"/> requests. Per stage: its worker and layer range.</summary>
    [MessagePackObject]
    public sealed record SessionOpened(
        [property: Key(0)] IActorRef Session,
        [property: Key(1)] string[] Workers,
        [property: Key(2)] int[] FirstLayers,
        [property: Key(3)] int[] EndLayers) : IClusterMessage;

    /// <summary>The session could not start (no worker Up, a stage failed to load, ...), in one line.</summary>
    [MessagePackObject]
    public sealed record SessionFailed([property: Key(0)] string Reason) : IClusterMessage;

    /// <summary>An <see cref="EvaluationRequest"/> on the wire.</summary>
    [MessagePackObject]
    public sealed record RequestData(
        [property: Key(0)] int Readout,
        [property: Key(1)] int Rows,
        [property: Key(2)] int Columns,
        [property: Key(3)] int[] InputIds,
        [property: Key(4)] int[]? AttentionMask,
        [property: Key(5)] int[] CandidateIds,
        [property: Key(6)] int[]? Labels,
        [property: Key(7)] int StartPosition)
    {
        public static RequestData From(EvaluationRequest r) =>
            new((int)r.Readout, r.Rows, r.Columns, r.InputIds, r.AttentionMask, r.CandidateIds, r.Labels, r.StartPosition);

        public EvaluationRequest ToRequest() =>
            new((EvaluationReadout)Readout, Rows, Columns, InputIds ?? [], AttentionMask, CandidateIds ?? [], Labels, StartPosition);
    }

    /// <summary>
    /// Client to session: one forward pass. <paramref name="DecodeId"/> &gt; 0 runs it on that decoding's KV caches
    /// (created with <paramref name="CacheCapacity"/> positions on first use); 0 runs without a cache.
    /// Answered by <see cref="Result"/> or <see cref="RequestFailed"/>.
    /// </summary>
    [MessagePackObject]
    public sealed record Forward(
        [property: Key(0)] long RequestId,
        [property: Key(1)] RequestData Request,
        [property: Key(2)] long DecodeId,
        [property: Key(3)] int CacheCapacity) : IClusterMessage;

    /// <summary>The readout of a forward pass (see <see cref="EvaluationResult"/>).</summary>
    [MessagePackObject]
    public sealed record Result(
        [property: Key(0)] long RequestId,
        [property: Key(1)] float[][] Values,
        [property: Key(2)] int NextToken) : IClusterMessage;

    /// <summary>A forward pass failed (a stage failed or the session is ending), in one line.</summary>
    [MessagePackObject]
    public sealed record RequestFailed(
        [property: Key(0)] long RequestId,
        [property: Key(1)] string Reason) : IClusterMessage;

    /// <summary>Client to session: a decoding is over; the stages free its KV caches.</summary>
    [MessagePackObject]
    public sealed record EndDecoding([property: Key(0)] long DecodeId) : IClusterMessage;

    /// <summary>Client to session: the evaluation is done; stop the stages. Answered by <see cref="SessionClosed"/>.</summary>
    [MessagePackObject]
    public sealed record CloseSession : IClusterMessage;

    /// <summary>The session has told its stages to stop and is ending.</summary>
    [MessagePackObject]
    public sealed record SessionClosed : IClusterMessage;

    /// <summary>Stage to session: loaded; <paramref name="Listener"/> is where the previous stage connects (null on stage 0).</summary>
    [MessagePackObject]
    public sealed record StageReady(
        [property: Key(0)] string SessionId,
        [property: Key(1)] int StageIndex,
        [property: Key(2)] IActorRef Stage,
        [property: Key(3)] string Node,
        [property: Key(4)] DataPlaneAddress? Listener) : IClusterMessage;

    /// <summary>Stage (or a node guardian for it) to session: the stage failed and stopped.</summary>
    [MessagePackObject]
    public sealed record StageFailed(
        [property: Key(0)] string SessionId,
        [property: Key(1)] int StageIndex,
        [property: Key(2)] string Reason) : IClusterMessage;

    /// <summary>Session to stage: connect to the next stage's listener (null on the last stage) and accept the previous one.</summary>
    [MessagePackObject]
    public sealed record ConnectStage(
        [property: Key(0)] string SessionId,
        [property: Key(1)] DataPlaneAddress? Next) : IClusterMessage;

    /// <summary>Stage to session: its data-plane links are open.</summary>
    [MessagePackObject]
    public sealed record StageConnected(
        [property: Key(0)] string SessionId,
        [property: Key(1)] int StageIndex) : IClusterMessage;

    /// <summary>Session to every stage, in request order: run this forward pass (stage 0 embeds the ids; the others receive activations).</summary>
    [MessagePackObject]
    public sealed record StageForward(
        [property: Key(0)] string SessionId,
        [property: Key(1)] long RequestId,
        [property: Key(2)] RequestData Request,
        [property: Key(3)] long DecodeId,
        [property: Key(4)] int CacheCapacity) : IClusterMessage;

    /// <summary>Last stage to session: the readout of a forward pass.</summary>
    [MessagePackObject]
    public sealed record StageResult(
        [property: Key(0)] string SessionId,
        [property: Key(1)] long RequestId,
        [property: Key(2)] float[][] Values,
        [property: Key(3)] int NextToken) : IClusterMessage;

    /// <summary>Session to every stage: free a decoding's KV caches.</summary>
    [MessagePackObject]
    public sealed record StageEndDecoding(
        [property: Key(0)] string SessionId,
        [property: Key(1)] long DecodeId) : IClusterMessage;

    /// <summary>Session to every stage: the session is over; stop.</summary>
    [MessagePackObject]
    public sealed record StopStage([property: Key(0)] string SessionId) : IClusterMessage;
}
