using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Persistence;
using P = ShareLoRA.Cluster.Coordination.CoordinatorJournalProtocol;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary><see cref="CoordinatorJournal"/> on a real PostgreSQL server (the configuration for clusters whose
/// coordinator may move between nodes); skipped, with the reason, without SHARELORA_TEST_POSTGRES.</summary>
public class CoordinatorJournalPostgresTests
{
    [SkippableFact]
    public async Task StateWrittenBeforeAStopIsRecoveredExactlyFromPostgres()
    {
        using var database = PostgresTestDatabase.CreateOrSkip();
        var config = PersistenceConfig.ForPostgres(database.ConnectionString);
        var db = PersistenceDatabase.FromConfig(config)!;
        Assert.Equal("PostgreSQL.15", db.ProviderName);
        Assert.DoesNotContain("Password", db.Description, StringComparison.OrdinalIgnoreCase);
        db.EnsureUsable();
        await JournalScenario.RoundTripAsync(() => JournalHost.Start(config));
    }

    [SkippableFact]
    public async Task SnapshotsAndDeletionsKeepThePostgresTablesShort()
    {
        using var database = PostgresTestDatabase.CreateOrSkip();
        const int every = 4;
        var config = PersistenceConfig.ForPostgres(database.ConnectionString, snapshotEvery: every);
        CoordinatorState written;
        await using (var host = JournalHost.Start(config))
        {
            await host.RecordAsync(new P.RecordJobAccepted("long-1", "long", "{}", "/runs/long"));
            for (var step = 1; step <= 19; step++)
                await host.RecordAsync(new P.RecordCheckpoint("long-1", step, $"/runs/long/checkpoints/step-{step:D6}"));
            written = await host.StateAsync();
            // 20 events, snapshot at 20: the journal keeps only its highest row.
            await CoordinatorJournalSqliteTests.EventuallyAsync(
                () => (Count("journal"), Count("snapshot")) == (1, 1),
                () => $"journal rows {Count("journal")}, snapshot rows {Count("snapshot")}; expected 1 and 1");
        }
        await using (var again = JournalHost.Start(config))
            Assert.Equal(written, await again.StateAsync());

        long Count(string table) => database.Count(table, CoordinatorJournal.PersistenceIdValue);
    }

    [SkippableFact]
    public async Task AWriteToADatabaseThatWentAwayIsAnsweredWithAFailureNamingIt()
    {
        using var database = PostgresTestDatabase.CreateOrSkip();
        var config = PersistenceConfig.ForPostgres(database.ConnectionString);
        await using var host = JournalHost.Start(config);
        await host.RecordAsync(new P.RecordJobAccepted("demo-1", "demo", "{}", "/runs/demo"));
        database.Drop();

        // The coordinator must not report this checkpoint committed: the Ask fails with the reason.
        var e = await Assert.ThrowsAsync<PersistenceDatabaseException>(() => host.RecordAsync(new P.RecordCheckpoint("demo-1", 10, "/runs/demo/checkpoints/step-000010")));
        Assert.StartsWith($"coordinator journal: writing CheckpointCommitted to {PersistenceDatabase.FromConfig(config)!.Description} failed: ", e.Message);
    }

    [Fact]
    public void AnUnreachableServerIsNamedWithoutItsPassword()
    {
        // Needs no server: port 1 on loopback refuses at once. Kept here beside the other PostgreSQL behaviour.
        var config = PersistenceConfig.ForPostgres("Host=127.0.0.1;Port=1;Database=coord;Username=alice;Password=secret;Timeout=3");
        var e = Assert.Throws<PersistenceDatabaseException>(() => PersistenceDatabase.FromConfig(config)!.EnsureUsable());
        Assert.StartsWith("coordinator state: cannot use PostgreSQL database 'coord' at 127.0.0.1:1 (user alice): ", e.Message);
        Assert.DoesNotContain("secret", e.Message);
    }
}
