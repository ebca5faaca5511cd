using ShareLoRA.Cluster.Coordination;
using P = ShareLoRA.Cluster.Coordination.CoordinatorJournalProtocol;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary>The same round trip for every database: record a job's life and a second job, stop the system, start a new
/// one on the same database and expect exactly the same state back, then keep writing.</summary>
internal static class JournalScenario
{
    // Quotes, backslashes, non-ASCII and a newline: the job JSON must come back byte for byte.
    public const string JobJson = "{\"name\":\"alpaca \\\"sharea\\\"\",\"data\":\"C:\\\\data\\\\x.jsonl\",\"note\":\"héllo → 世界\",\n\"steps\":30}";

    public static async Task RoundTripAsync(Func<JournalHost> start)
    {
        CoordinatorState written;
        await using (var first = start())
        {
            Assert.Equal(CoordinatorState.Empty, await first.StateAsync());
            await first.RecordAsync(new P.RecordJobAccepted("demo-1", "demo", "{\"name\":\"demo\"}", "/runs/demo"));
            await first.RecordAsync(new P.RecordCheckpoint("demo-1", 10, "/runs/demo/checkpoints/step-000010"));
            await first.RecordAsync(new P.RecordJobEnded("demo-1", JobStatus.Completed, "10 steps"));
            await first.RecordAsync(new P.RecordJobAccepted("alpaca-2", "alpaca", JobJson, "/runs/alpaca"));
            await first.RecordAsync(new P.RecordCheckpoint("alpaca-2", 5, "/runs/alpaca/checkpoints/step-000005"));
            written = await first.RecordAsync(new P.RecordCheckpoint("alpaca-2", 10, "/runs/alpaca/checkpoints/step-000010"));
            Assert.Equal(written, await first.StateAsync());
        }

        Assert.Equal(new CoordinatorState(2,
            new ActiveJobState("alpaca-2", "alpaca", JobJson, "/runs/alpaca", 10, "/runs/alpaca/checkpoints/step-000010"),
            new EndedJobState("demo-1", "demo", "{\"name\":\"demo\"}", "/runs/demo", JobStatus.Completed, "10 steps", 10,
                "/runs/demo/checkpoints/step-000010")), written);

        await using (var second = start())
        {
            Assert.Equal(written, await second.StateAsync());
            // The recovered journal goes on where the first one stopped.
            var after = await second.RecordAsync(new P.RecordJobEnded("alpaca-2", JobStatus.Failed, "stage 1 lost"));
            Assert.Null(after.ActiveJob);
            Assert.Equal(("alpaca-2", JobStatus.Failed, 10), (after.LastEnded!.JobId, after.LastEnded.State, after.LastEnded.LastCheckpointStep));
        }

        await using (var third = start())
            Assert.Equal(2, (await third.StateAsync()).JobCounter);
    }
}
