using Akka.Actor;
using ShareLoRA.Cluster.Coordination;

namespace ShareLoRA.Cluster.Tests.Coordination;

public sealed class RecoveryPlannerTests
{
    private static Address W(int port) => new("akka.tcp", "sharelora", "127.0.0.1", port);

    [Fact]
    public void ASpareTakesTheLostStageAndSurvivorsKeepTheirPlaces()
    {
        var d = RecoveryPlanner.Decide(2, [W(1), W(2)], [W(3), W(1)], recoveriesDone: 0);
        Assert.Equal(RecoveryAction.SameStages, d.Action);
        Assert.Equal(2, d.Stages);
        Assert.Equal([W(1), W(3)], d.Workers);
        Assert.Equal([W(2)], d.Lost);
    }

    [Fact]
    public void FewerLiveWorkersThanStagesReplanOverThem()
    {
        var d = RecoveryPlanner.Decide(3, [W(1), W(2), W(3)], [W(3), W(1)], recoveriesDone: 1);
        Assert.Equal(RecoveryAction.Replan, d.Action);
        Assert.Equal(2, d.Stages);
        Assert.Equal([W(1), W(3)], d.Workers);
        Assert.Equal([W(2)], d.Lost);
        Assert.Contains("re-planning over 2", d.Message);
    }

    [Fact]
    public void ARunThatShrankGrowsBackToTheJobsStagesWhenSparesAreThere()
    {
        var d = RecoveryPlanner.Decide(3, [W(1), W(2)], [W(1), W(4), W(5), W(6)], recoveriesDone: 2);
        Assert.Equal(RecoveryAction.SameStages, d.Action);
        Assert.Equal([W(1), W(4), W(5)], d.Workers);
    }

    [Fact]
    public void NoLiveWorkerMeansWaiting()
    {
        var d = RecoveryPlanner.Decide(2, [W(1), W(2)], [], recoveriesDone: 0);
        Assert.Equal(RecoveryAction.WaitForWorkers, d.Action);
        Assert.Empty(d.Workers);
        Assert.Equal([W(1), W(2)], d.Lost);
        Assert.StartsWith("waiting for a worker", d.Message);
    }

    [Fact]
    public void RecoveriesAreBounded()
    {
        var d = RecoveryPlanner.Decide(2, [W(1), W(2)], [W(1), W(3)], recoveriesDone: RecoveryPlanner.DefaultMaxRecoveries);
        Assert.Equal(RecoveryAction.GiveUp, d.Action);
        Assert.Contains($"gave up after {RecoveryPlanner.DefaultMaxRecoveries} recoveries", d.Message);
        Assert.Equal(RecoveryAction.SameStages, RecoveryPlanner.Decide(2, [W(1), W(2)], [W(1), W(3)], 4).Action);
    }

    [Fact]
    public void AllWorkersAnsweringKeepsThePlanOnTheSameWorkers()
    {
        var d = RecoveryPlanner.Decide(2, [W(2), W(1)], [W(1), W(2)], recoveriesDone: 0);
        Assert.Equal(RecoveryAction.SameStages, d.Action);
        Assert.Equal([W(2), W(1)], d.Workers);
        Assert.Empty(d.Lost);
    }
}
