using ShareLoRA.Cluster.Coordination;
using Events = ShareLoRA.Cluster.Coordination.CoordinatorJournalEvents;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary>The plain state machine behind <see cref="CoordinatorJournal"/>: which events it admits and how it folds them.</summary>
public class CoordinatorStateTests
{
    private static readonly Events.JobAccepted Accepted = new("demo-1", "demo", "{\"name\":\"demo\"}", "/runs/demo");

    [Fact]
    public void FoldingAJobsLifeKeepsTheLastCheckpointAndMovesTheJobToLastEnded()
    {
        var state = CoordinatorState.Empty
            .Apply(Accepted)
            .Apply(new Events.CheckpointCommitted("demo-1", 10, "/runs/demo/checkpoints/step-000010"))
            .Apply(new Events.CheckpointCommitted("demo-1", 20, "/runs/demo/checkpoints/step-000020"));
        Assert.Equal(1, state.JobCounter);
        Assert.Equal(new ActiveJobState("demo-1", "demo", Accepted.JobJson, "/runs/demo", 20, "/runs/demo/checkpoints/step-000020"), state.ActiveJob);
        Assert.Null(state.LastEnded);

        var ended = state.Apply(new Events.JobEnded("demo-1", JobStatus.Completed, "30 steps"));
        Assert.Null(ended.ActiveJob);
        Assert.Equal(new EndedJobState("demo-1", "demo", Accepted.JobJson, "/runs/demo", JobStatus.Completed, "30 steps", 20,
            "/runs/demo/checkpoints/step-000020"), ended.LastEnded);

        var next = ended.Apply(new Events.JobAccepted("demo-2", "demo", "{}", "/runs/demo2"));
        Assert.Equal(2, next.JobCounter);
        Assert.Equal("demo-2", next.ActiveJob!.JobId);
        Assert.Null(next.ActiveJob.LastCheckpointStep);
        Assert.Equal("demo-1", next.LastEnded!.JobId);
    }

    [Fact]
    public void NewEventsAreAdmittedAndRepeatsAreAcknowledgedWithoutANewRow()
    {
        Assert.True(CoordinatorState.Empty.Admit(Accepted));
        var active = CoordinatorState.Empty.Apply(Accepted);
        Assert.False(active.Admit(Accepted));

        var checkpoint = new Events.CheckpointCommitted("demo-1", 10, "/runs/demo/checkpoints/step-000010");
        Assert.True(active.Admit(checkpoint));
        var checkpointed = active.Apply(checkpoint);
        Assert.False(checkpointed.Admit(checkpoint));
        // A lower step is a real change: the newest checkpoint was damaged and training redid steps from an older one.
        Assert.True(checkpointed.Admit(new Events.CheckpointCommitted("demo-1", 5, "/runs/demo/checkpoints/step-000005")));

        var end = new Events.JobEnded("demo-1", JobStatus.Failed, "stage 1 lost");
        Assert.True(checkpointed.Admit(end));
        var ended = checkpointed.Apply(end);
        Assert.False(ended.Admit(end));
        Assert.Same(ended, ended.Apply(end));
    }

    [Fact]
    public void EventsThatContradictTheStateAreRefusedWithTheJobsNamed()
    {
        var active = CoordinatorState.Empty.Apply(Accepted);

        var second = Assert.Throws<InvalidOperationException>(() => active.Admit(new Events.JobAccepted("demo-2", "demo", "{}", "/runs/x")));
        Assert.Equal("cannot accept job demo-2: job demo-1 (output /runs/demo) is still active; record its end first", second.Message);
        // The same id with another job is not a retry.
        Assert.Throws<InvalidOperationException>(() => active.Admit(Accepted with { Output = "/elsewhere" }));

        var foreign = Assert.Throws<InvalidOperationException>(() => active.Admit(new Events.CheckpointCommitted("other-7", 10, "/c")));
        Assert.Equal("cannot record checkpoint step 10: job other-7 is not the active job (active: demo-1)", foreign.Message);
        Assert.Throws<InvalidOperationException>(() => CoordinatorState.Empty.Admit(new Events.CheckpointCommitted("demo-1", 10, "/c")));
        Assert.Throws<InvalidOperationException>(() => CoordinatorState.Empty.Admit(new Events.JobEnded("demo-1", JobStatus.Completed, "")));

        var ended = active.Apply(new Events.JobEnded("demo-1", JobStatus.Completed, "done"));
        Assert.Throws<InvalidOperationException>(() => ended.Admit(new Events.CheckpointCommitted("demo-1", 20, "/c")));
        Assert.Throws<InvalidOperationException>(() => ended.Admit(new Events.JobEnded("demo-1", JobStatus.Failed, "late")));

        Assert.Throws<InvalidOperationException>(() => CoordinatorState.Empty.Apply(new Events.CheckpointCommitted("x", 1, "/c")));
    }

    [Theory]
    [InlineData("", "demo", "{}", "/o", "JobId")]
    [InlineData("j", " ", "{}", "/o", "JobName")]
    [InlineData("j", "demo", "", "/o", "JobJson")]
    [InlineData("j", "demo", "{}", "", "Output")]
    public void EmptyFieldsAreRefusedByName(string id, string name, string json, string output, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => CoordinatorState.Empty.Admit(new Events.JobAccepted(id, name, json, output)));
        Assert.Equal($"coordinator journal: {field} must not be empty", e.Message);
    }

    [Fact]
    public void ANegativeStepOrEmptyDirectoryIsRefused()
    {
        var active = CoordinatorState.Empty.Apply(Accepted);
        Assert.Equal("checkpoint step must be >= 0 (got -1)",
            Assert.Throws<ArgumentException>(() => active.Admit(new Events.CheckpointCommitted("demo-1", -1, "/c"))).Message);
        Assert.Throws<ArgumentException>(() => active.Admit(new Events.CheckpointCommitted("demo-1", 1, "")));
        Assert.Throws<ArgumentException>(() => active.Admit(new Events.JobEnded("demo-1", "", "")));
    }
}
