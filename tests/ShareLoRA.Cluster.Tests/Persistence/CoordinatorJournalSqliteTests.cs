using Akka.Actor;
using Microsoft.Data.Sqlite;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Hosting;
using ShareLoRA.Cluster.Persistence;
using P = ShareLoRA.Cluster.Coordination.CoordinatorJournalProtocol;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary><see cref="CoordinatorJournal"/> on a real SQLite file (the embedded default), across ActorSystem restarts.</summary>
public class CoordinatorJournalSqliteTests
{
    [Fact]
    public async Task StateWrittenBeforeAStopIsRecoveredExactlyByANewSystemOnTheSameFile()
    {
        using var folder = new TempFolder();
        var file = Path.Combine(folder.Path, "state", PersistenceDatabase.SqliteFileName);
        var config = PersistenceConfig.ForSqliteFile(file);
        PersistenceDatabase.FromConfig(config)!.EnsureUsable();
        await JournalScenario.RoundTripAsync(() => JournalHost.Start(config));

        // Every row went through our MessagePack serializer, none through the Newtonsoft fallback.
        var serializers = Query(file, "SELECT DISTINCT identifier || ' ' || manifest FROM journal UNION SELECT DISTINCT serializer_id || ' ' || manifest FROM snapshot");
        Assert.NotEmpty(serializers);
        Assert.All(serializers, s => Assert.Matches($"^{MessagePackPersistenceSerializer.Id} coordinator\\.[a-z-]+\\.v1$", s));
    }

    [Fact]
    public async Task SnapshotsAndDeletionsKeepTheTablesShortAfterManyEvents()
    {
        using var folder = new TempFolder();
        var file = Path.Combine(folder.Path, PersistenceDatabase.SqliteFileName);
        const int every = 5;
        var config = PersistenceConfig.ForSqliteFile(file, snapshotEvery: every);
        PersistenceDatabase.FromConfig(config)!.EnsureUsable();
        CoordinatorState written;
        await using (var host = JournalHost.Start(config))
        {
            await host.RecordAsync(new P.RecordJobAccepted("long-1", "long", "{}", "/runs/long"));
            for (var step = 1; step <= 60; step++)
                await host.RecordAsync(new P.RecordCheckpoint("long-1", step, $"/runs/long/checkpoints/step-{step:D6}"));
            written = await host.StateAsync();
            // 61 events: the snapshot at 60 replaced events 1..60; the journal keeps its highest deleted row (60, so
            // sequence numbers never restart) and event 61. Deletion runs after the snapshot is saved: wait for it.
            await EventuallyAsync(() => (Count(file, "journal"), Count(file, "snapshot")) == (2, 1),
                () => $"journal rows {Count(file, "journal")}, snapshot rows {Count(file, "snapshot")}; expected 2 and 1");
        }
        Assert.Equal(60, written.ActiveJob!.LastCheckpointStep);

        await using (var again = JournalHost.Start(config))
        {
            Assert.Equal(written, await again.StateAsync());
            for (var step = 61; step <= 63; step++)
                await again.RecordAsync(new P.RecordCheckpoint("long-1", step, $"/runs/long/checkpoints/step-{step:D6}"));
            Assert.Equal(63, (await again.StateAsync()).ActiveJob!.LastCheckpointStep);
        }
        Assert.InRange(Count(file, "journal"), 1, every + 1);
        Assert.Equal(1, Count(file, "snapshot"));
    }

    [Fact]
    public async Task ACommandThatContradictsTheStateIsAnsweredWithTheReasonAndWritesNothing()
    {
        using var folder = new TempFolder();
        var file = Path.Combine(folder.Path, PersistenceDatabase.SqliteFileName);
        var config = PersistenceConfig.ForSqliteFile(file);
        PersistenceDatabase.FromConfig(config)!.EnsureUsable();
        await using var host = JournalHost.Start(config);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.RecordAsync(new P.RecordCheckpoint("ghost-3", 10, "/c")));
        Assert.Equal("cannot record checkpoint step 10: job ghost-3 is not the active job (active: none)", e.Message);

        var accepted = await host.RecordAsync(new P.RecordJobAccepted("demo-1", "demo", "{}", "/runs/demo"));
        // A retry after an Ask timeout is acknowledged with the same state and no second row.
        Assert.Equal(accepted, await host.RecordAsync(new P.RecordJobAccepted("demo-1", "demo", "{}", "/runs/demo")));
        Assert.Equal(1, Count(file, "journal"));
        Assert.Equal(1, (await host.StateAsync()).JobCounter);
    }

    [Fact]
    public void ADamagedDatabaseFileStopsTheSeedWithOneLineNamingTheFile()
    {
        using var folder = new TempFolder();
        var state = Path.Combine(folder.Path, "state");
        Directory.CreateDirectory(state);
        var file = Path.Combine(state, PersistenceDatabase.SqliteFileName);
        File.WriteAllText(file, string.Concat(Enumerable.Repeat("this is not a SQLite database\n", 200)));

        var e = Assert.Throws<NodeStartException>(() => NodeHost.Start(new NodeOptions(NodeRole.Seed, Port: FreePort(), StateDirectory: state)));
        Assert.StartsWith($"coordinator state: SQLite file {file} is not usable: ", e.Message);
        Assert.Contains("file is not a database", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void AStateFolderThatCannotBeCreatedIsNamedWithTheFile()
    {
        using var folder = new TempFolder();
        // A regular file where the state folder's parent should be: fails for root too, unlike file permissions.
        var blocker = Path.Combine(folder.Path, "not-a-folder");
        File.WriteAllText(blocker, "");
        var file = Path.Combine(blocker, "state", PersistenceDatabase.SqliteFileName);

        var e = Assert.Throws<PersistenceDatabaseException>(() => PersistenceDatabase.FromConfig(PersistenceConfig.ForSqliteFile(file))!.EnsureUsable());
        Assert.StartsWith($"coordinator state: cannot create the state folder {Path.Combine(blocker, "state")} for {file}: ", e.Message);
    }

    internal static long Count(string file, string table) =>
        long.Parse(Query(file, $"SELECT COUNT(*) FROM {table} WHERE persistence_id = '{CoordinatorJournal.PersistenceIdValue}'").Single());

    internal static List<string> Query(string file, string sql)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read()) rows.Add(Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        return rows;
    }

    /// <summary>Waits (up to 15 s) for background work such as snapshot deletion; not a timing assertion.</summary>
    internal static async Task EventuallyAsync(Func<bool> condition, Func<string> describe)
    {
        for (var i = 0; i < 300 && !condition(); i++) await Task.Delay(50);
        Assert.True(condition(), describe());
    }

    private static int FreePort() => ShareLoRA.TestSupport.TestPorts.Free();
}
