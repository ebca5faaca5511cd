using Akka.Actor;
using MessagePack;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Stages;

/// <summary>
/// Messages a <see cref="StageActor"/> receives (from the coordinator, or its node guardian for <see cref="SpawnStage"/>).
/// Every message names its job so a late message of an aborted job is recognised and dropped.
/// </summary>
public static class StageProtocol
{
    /// <summary>To a worker's node guardian: create the stage actor that loads layers [FirstLayer, EndLayer) of the job's
    /// model and reports <see cref="Coordination.CoordinatorProtocol.StageReady"/> or <see cref="Coordination.CoordinatorProtocol.StageFailed"/>
    /// to <paramref name="Coordinator"/>. <paramref name="JobId"/> names the job's attempt (a recovery starts a new one),
    /// so stages of an attempt being stopped never clash with the next. With <paramref name="Restore"/> the coordinator
    /// sends <see cref="RestoreState"/> parts after StageReady and before anything else.</summary>
    [MessagePackObject]
    public sealed record SpawnStage(
        [property: Key(0)] string JobId,
        [property: Key(1)] int StageIndex,
        [property: Key(2)] int Stages,
        [property: Key(3)] string JobJson,
        [property: Key(4)] int FirstLayer,
        [property: Key(5)] int EndLayer,
        [property: Key(6)] IActorRef Coordinator,
        [property: Key(7)] bool Restore = false) : IClusterMessage;

    /// <summary>Open the data-plane links: accept the previous stage on this stage's listener (when not first) and connect
    /// to <paramref name="Next"/>, the next stage's listener (null on the last stage). Answered by StageConnected.</summary>
    [MessagePackObject]
    public sealed record ConnectNeighbours(
        [property: Key(0)] string JobId,
        [property: Key(1)] DataPlaneAddress? Next) : IClusterMessage;

    /// <summary>One micro-batch as this stage needs it, row-major [Rows, Columns]: token ids (first stage only), labels
    /// (last stage only) and the attention mask (every stage). <paramref name="RowLabels"/> (last stage only) carries
    /// sequence-level targets instead of token labels — a GLUE class id or STS-B score per row.</summary>
    [MessagePackObject]
    public sealed record MicroBatchData(
        [property: Key(0)] int Rows,
        [property: Key(1)] int Columns,
        [property: Key(2)] int[]? InputIds,
        [property: Key(3)] int[]? Labels,
        [property: Key(4)] int[] AttentionMask,
        [property: Key(5)] float[]? RowLabels = null)
    {
        /// <summary>The part of <paramref name="b"/> a stage needs: ids to the first stage, labels to the last.</summary>
        public static MicroBatchData For(Training.Data.Batch b, bool first, bool last) =>
            new(b.Rows, b.Columns, first ? b.InputIds : null, last ? b.Labels : null, b.AttentionMask, last ? b.RowLabels : null);
    }

    /// <summary>Run the forward and backward passes of optimizer step <paramref name="Step"/> (0-based) over its
    /// micro-batches in the job's schedule; answered by StepPartial. <paramref name="LossDivisor"/> is the step's target
    /// tokens.</summary>
    [MessagePackObject]
    public sealed record RunStep(
        [property: Key(0)] string JobId,
        [property: Key(1)] int Step,
        [property: Key(2)] double LossDivisor,
        [property: Key(3)] MicroBatchData[] MicroBatches) : IClusterMessage;

    /// <summary>The step's outcome for every stage: the new shared values (version = <paramref name="Step"/>), the global
    /// clip coefficient and the learning rate for the stage's own AdamW step.</summary>
    [MessagePackObject]
    public sealed record StepCommit(
        [property: Key(0)] string JobId,
        [property: Key(1)] int Step,
        [property: Key(2)] Dictionary<string, TensorPayload> SharedValues,
        [property: Key(3)] double ClipCoefficient,
        [property: Key(4)] double LearningRate) : IClusterMessage;

    /// <summary>Part <paramref name="Part"/> of <paramref name="Parts"/> of a forward-only evaluation after
    /// <paramref name="Step"/> committed steps (0 = before the first): the eval batches from index
    /// <paramref name="FirstBatch"/> on, in order, as <see cref="MicroBatchData"/> (ids to the first stage, labels to the
    /// last). No dropout, no gradients; activations travel with <see cref="ActivationDirection.Eval"/> tags. Sent after
    /// the step's commit and before the next step, so it sees the committed weights. Every stage answers the last part
    /// with EvalPartial (the last stage's loss sum over all parts, in batch order).</summary>
    [MessagePackObject]
    public sealed record RunEval(
        [property: Key(0)] string JobId,
        [property: Key(1)] int Step,
        [property: Key(2)] int Part,
        [property: Key(3)] int Parts,
        [property: Key(4)] int FirstBatch,
        [property: Key(5)] MicroBatchData[] Batches) : IClusterMessage;

    /// <summary>Send the per-layer adapter values (answered by StageAdapter). Sent after the last commit.</summary>
    [MessagePackObject]
    public sealed record CollectAdapter([property: Key(0)] string JobId) : IClusterMessage;

    /// <summary>The job is over (done or aborted): stop and free the stage.</summary>
    [MessagePackObject]
    public sealed record StopStage([property: Key(0)] string JobId) : IClusterMessage;

    /// <summary>Part <paramref name="Part"/> of <paramref name="Parts"/> of the state a restored stage starts from: its
    /// layers' values and AdamW state and the shared values for its replicas. The stage imports on the last part.</summary>
    [MessagePackObject]
    public sealed record RestoreState(
        [property: Key(0)] string JobId,
        [property: Key(1)] int Part,
        [property: Key(2)] int Parts,
        [property: Key(3)] StatePart State) : IClusterMessage;

    /// <summary>Send this stage's state after step <paramref name="Step"/>'s commit (answered by StageStatePart messages).</summary>
    [MessagePackObject]
    public sealed record CollectState([property: Key(0)] string JobId, [property: Key(1)] int Step) : IClusterMessage;
}
