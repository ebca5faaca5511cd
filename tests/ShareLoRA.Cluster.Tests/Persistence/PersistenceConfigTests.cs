using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Persistence;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary>Which nodes get persistence and where their database is.</summary>
public class PersistenceConfigTests
{
    [Fact]
    public void ASeedKeepsItsStateInASqliteFileInsideItsLogsFolderByDefault()
    {
        var config = ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, LogsDirectory: "/var/log/sharelora"));
        var db = PersistenceDatabase.FromConfig(config)!;
        Assert.Equal("SQLite.MS", db.ProviderName);
        Assert.Equal("/var/log/sharelora/state/coordinator.db", db.SqliteFile);
        Assert.Equal("SQLite file /var/log/sharelora/state/coordinator.db", db.Description);
        // Journal and snapshot store share the database.
        Assert.Equal(config.GetString("akka.persistence.journal.sql.connection-string"), config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
        Assert.Equal("akka.persistence.snapshot-store.sql", config.GetString("akka.persistence.snapshot-store.plugin"));
        Assert.Equal("sharelora-persistence",
            config.GetString("akka.actor.serialization-bindings.\"ShareLoRA.Cluster.Persistence.IPersistedRecord, ShareLoRA.Cluster\""));
        // The wire binding from base.hocon is still there beside it.
        Assert.Equal("sharelora", config.GetString("akka.actor.serialization-bindings.\"ShareLoRA.Cluster.Wire.IClusterMessage, ShareLoRA.Cluster\""));
    }

    [Fact]
    public void StateOptionMovesTheFileAndWorkersHaveNoPersistence()
    {
        var seed = ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, StateDirectory: "/srv/coord"));
        Assert.Equal("/srv/coord/coordinator.db", PersistenceDatabase.FromConfig(seed)!.SqliteFile);

        var worker = ClusterConfig.ForNode(new NodeOptions(NodeRole.Worker, Seed: HostPort.Parse("127.0.0.1:4053")));
        Assert.Null(PersistenceDatabase.FromConfig(worker));
        Assert.False(worker.HasPath("sharelora.persistence"));
    }

    [Fact]
    public void PostgresFromAConfigFileFillsJournalAndSnapshotStore()
    {
        var file = Path.GetTempFileName();
        try
        {
            // The snippet of docs/PERSISTENCE.md.
            File.WriteAllText(file, """
                sharelora.persistence {
                  provider-name = "PostgreSQL.15"
                  connection-string = "Host=db.internal;Port=5432;Database=sharelora;Username=sharelora;Password=s3cret"
                }
                """);
            var config = ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, ConfigFile: file, StateDirectory: "/ignored"));
            foreach (var plugin in new[] { PersistenceConfig.JournalPluginId, PersistenceConfig.SnapshotPluginId })
            {
                Assert.Equal("PostgreSQL.15", config.GetString(plugin + ".provider-name"));
                Assert.Equal("Host=db.internal;Port=5432;Database=sharelora;Username=sharelora;Password=s3cret", config.GetString(plugin + ".connection-string"));
            }
            Assert.Equal("PostgreSQL database 'sharelora' at db.internal:5432 (user sharelora)", PersistenceDatabase.FromConfig(config)!.Description);

            File.WriteAllText(file, "sharelora.persistence.provider-name = \"PostgreSQL.15\"\n");
            var e = Assert.Throws<ArgumentException>(() => ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, ConfigFile: file)));
            Assert.Equal("sharelora.persistence.connection-string is empty for provider PostgreSQL.15: only SQLite has a default (a file under --state)", e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
