using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Evaluation;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Cluster.Stages;
using ShareLoRA.Cluster.Status;

namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// The registry of wire message types and their stable manifests. Manifests are short fixed names rather than CLR
/// type names so that renaming or moving a type does not break nodes of a different build on the same cluster.
/// </summary>
public static class WireMessageTypes
{
    private static readonly (string Manifest, Type Type)[] Entries =
    [
        ("node.get-report", typeof(NodeProtocol.GetNodeReport)),
        ("node.report", typeof(NodeProtocol.NodeReport)),
        ("status.get", typeof(StatusProtocol.GetStatus)),
        ("status.report", typeof(StatusReport)),
        ("dp.frame", typeof(DataPlaneProtocol.ActivationFrame)),
        ("dp.ack", typeof(DataPlaneProtocol.ActivationAck)),
        ("dp.tcp-address", typeof(DataPlaneAddress)),
        ("dp.get-tcp-address", typeof(DataPlaneProtocol.GetDataPlaneAddress)),
        ("coord.submit", typeof(CoordinatorProtocol.SubmitJob)),
        ("coord.accepted", typeof(CoordinatorProtocol.JobAccepted)),
        ("coord.rejected", typeof(CoordinatorProtocol.JobRejected)),
        ("coord.get-status", typeof(CoordinatorProtocol.GetJobStatus)),
        ("coord.status", typeof(JobStatus)),
        ("coord.stage-ready", typeof(CoordinatorProtocol.StageReady)),
        ("coord.stage-connected", typeof(CoordinatorProtocol.StageConnected)),
        ("coord.stage-failed", typeof(CoordinatorProtocol.StageFailed)),
        ("coord.step-partial", typeof(CoordinatorProtocol.StepPartial)),
        ("coord.stage-adapter", typeof(CoordinatorProtocol.StageAdapter)),
        ("stage.spawn", typeof(StageProtocol.SpawnStage)),
        ("stage.connect", typeof(StageProtocol.ConnectNeighbours)),
        ("stage.run-step", typeof(StageProtocol.RunStep)),
        ("stage.commit", typeof(StageProtocol.StepCommit)),
        ("stage.collect-adapter", typeof(StageProtocol.CollectAdapter)),
        ("stage.stop", typeof(StageProtocol.StopStage)),
        ("stage.restore-state", typeof(StageProtocol.RestoreState)),
        ("stage.collect-state", typeof(StageProtocol.CollectState)),
        ("coord.stage-state-part", typeof(CoordinatorProtocol.StageStatePart)),
        ("stage.run-eval", typeof(StageProtocol.RunEval)),
        ("coord.eval-partial", typeof(CoordinatorProtocol.EvalPartial)),
        ("node.spawn-eval-stage", typeof(NodeProtocol.SpawnEvalStage)),
        ("eval.open", typeof(EvalProtocol.OpenSession)),
        ("eval.starting", typeof(EvalProtocol.SessionStarting)),
        ("eval.opened", typeof(EvalProtocol.SessionOpened)),
        ("eval.session-failed", typeof(EvalProtocol.SessionFailed)),
        ("eval.forward", typeof(EvalProtocol.Forward)),
        ("eval.result", typeof(EvalProtocol.Result)),
        ("eval.request-failed", typeof(EvalProtocol.RequestFailed)),
        ("eval.end-decoding", typeof(EvalProtocol.EndDecoding)),
        ("eval.close", typeof(EvalProtocol.CloseSession)),
        ("eval.closed", typeof(EvalProtocol.SessionClosed)),
        ("eval.stage-ready", typeof(EvalProtocol.StageReady)),
        ("eval.stage-failed", typeof(EvalProtocol.StageFailed)),
        ("eval.stage-connect", typeof(EvalProtocol.ConnectStage)),
        ("eval.stage-connected", typeof(EvalProtocol.StageConnected)),
        ("eval.stage-forward", typeof(EvalProtocol.StageForward)),
        ("eval.stage-result", typeof(EvalProtocol.StageResult)),
        ("eval.stage-end-decoding", typeof(EvalProtocol.StageEndDecoding)),
        ("eval.stage-stop", typeof(EvalProtocol.StopStage)),
    ];

    private static readonly ManifestTable Table = new(Entries,
        type => $"{type.FullName} implements IClusterMessage but is not registered in WireMessageTypes; add it there",
        manifest => $"unknown wire manifest '{manifest}': the sending node runs a build with message types this one lacks");

    /// <summary>Every registered message type with its manifest.</summary>
    public static IReadOnlyList<(string Manifest, Type Type)> All => Table.All;

    public static string ManifestOf(Type type) => Table.ManifestOf(type);

    public static Type TypeOf(string manifest) => Table.TypeOf(manifest);
}
