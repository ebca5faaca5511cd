using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Evaluation;
using ShareLoRA.Cluster.Nodes;

namespace ShareLoRA.Cluster.Tests.Wire;

/// <summary>One filled-in instance per message of evaluation through the cluster, for the wire round-trip test.</summary>
internal static class EvalWireSamples
{
    private static readonly EvalProtocol.RequestData Request = new(0, 2, 3, [1, 5, 6, 1, 7, 0], [1, 1, 1, 1, 1, 0], [10, 11, 12, 13], null, 0);

    // Actor references are null here (they travel as paths; ActorRefsTravelAsPathsAndResolveOnTheOtherSide covers them).
    public static readonly Dictionary<Type, object> All = new()
    {
        [typeof(NodeProtocol.SpawnEvalStage)] = new NodeProtocol.SpawnEvalStage("1f-2", 1, 2, "/models/m", "/runs/x/adapter", 3, 5, null!),
        [typeof(EvalProtocol.OpenSession)] = new EvalProtocol.OpenSession("/models/m", null, 2, 5, null!, 600),
        [typeof(EvalProtocol.SessionStarting)] = new EvalProtocol.SessionStarting(2),
        [typeof(EvalProtocol.SessionOpened)] = new EvalProtocol.SessionOpened(null!, ["akka.tcp://sharelora@10.0.0.2:4100", "akka.tcp://sharelora@10.0.0.3:4100"], [0, 3], [3, 5]),
        [typeof(EvalProtocol.SessionFailed)] = new EvalProtocol.SessionFailed("no worker is Up in the cluster"),
        [typeof(EvalProtocol.Forward)] = new EvalProtocol.Forward(7, Request with { Readout = 1, Labels = [-100, 5, 6, -100, 7, -100], CandidateIds = [] }, 0, 0),
        [typeof(EvalProtocol.Result)] = new EvalProtocol.Result(7, [[0.5f, -1.25f], [-3.4e38f, float.Epsilon]], -1),
        [typeof(EvalProtocol.RequestFailed)] = new EvalProtocol.RequestFailed(7, "eval stage 1 on worker w: request 7 failed: boom"),
        [typeof(EvalProtocol.EndDecoding)] = new EvalProtocol.EndDecoding(3),
        [typeof(EvalProtocol.CloseSession)] = new EvalProtocol.CloseSession(),
        [typeof(EvalProtocol.SessionClosed)] = new EvalProtocol.SessionClosed(),
        [typeof(EvalProtocol.StageReady)] = new EvalProtocol.StageReady("1f-2", 1, null!, "akka.tcp://sharelora@10.0.0.3:4100", new DataPlaneAddress("10.0.0.3", 45001, "AB")),
        [typeof(EvalProtocol.StageFailed)] = new EvalProtocol.StageFailed("1f-2", 0, "eval stage 0 on worker w: load failed: no config.json"),
        [typeof(EvalProtocol.ConnectStage)] = new EvalProtocol.ConnectStage("1f-2", null),
        [typeof(EvalProtocol.StageConnected)] = new EvalProtocol.StageConnected("1f-2", 1),
        [typeof(EvalProtocol.StageForward)] = new EvalProtocol.StageForward("1f-2", 8, Request with { Readout = 2, Rows = 1, Columns = 1, InputIds = [4], AttentionMask = null, CandidateIds = [], StartPosition = 9 }, 3, 64),
        [typeof(EvalProtocol.StageResult)] = new EvalProtocol.StageResult("1f-2", 8, [], 42),
        [typeof(EvalProtocol.StageEndDecoding)] = new EvalProtocol.StageEndDecoding("1f-2", 3),
        [typeof(EvalProtocol.StopStage)] = new EvalProtocol.StopStage("1f-2"),
    };
}
