using Akka.Configuration;
using Microsoft.Data.Sqlite;
using ShareLoRA.Cluster.Config;

namespace ShareLoRA.Cluster.Persistence;

/// <summary>
/// The Akka.Persistence configuration of nodes that can host the coordinator (cluster-config/persistence.hocon):
/// the SQL journal and snapshot store, one database for both, named once in <c>sharelora.persistence</c>. With
/// SQLite and no connection string the database is the file STATE/coordinator.db.
/// </summary>
public static class PersistenceConfig
{
    /// <summary>The embedded HOCON file.</summary>
    public const string FileName = "persistence.hocon";

    /// <summary>HOCON path of the journal plugin.</summary>
    public const string JournalPluginId = "akka.persistence.journal.sql";

    /// <summary>HOCON path of the snapshot-store plugin.</summary>
    public const string SnapshotPluginId = "akka.persistence.snapshot-store.sql";

    /// <summary>persistence.hocon as shipped (connection strings not yet filled in).</summary>
    public static Akka.Configuration.Config Embedded() => ConfigurationFactory.ParseString(ClusterConfig.ReadEmbedded(FileName));

    /// <summary>
    /// Fills the journal's and snapshot store's provider-name and connection-string from <c>sharelora.persistence</c>
    /// where they are empty; an empty SQLite connection string becomes the file
    /// <paramref name="stateDirectory"/>/coordinator.db (absolute). Touches no file (see
    /// <see cref="PersistenceDatabase.EnsureUsable"/>). Throws <see cref="ArgumentException"/> when a non-SQLite provider
    /// has no connection string.
    /// </summary>
    public static Akka.Configuration.Config Resolve(Akka.Configuration.Config config, string stateDirectory)
    {
        var provider = config.GetString("sharelora.persistence.provider-name", "");
        var connection = config.GetString("sharelora.persistence.connection-string", "");
        if (string.IsNullOrWhiteSpace(provider))
            throw new ArgumentException("sharelora.persistence.provider-name is empty: give SQLite.MS (the default) or PostgreSQL.15");
        if (string.IsNullOrWhiteSpace(connection))
        {
            if (!provider.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase))
                throw new ArgumentException($"sharelora.persistence.connection-string is empty for provider {provider}: only SQLite has a default (a file under --state)");
            connection = SqliteConnectionString(Path.Combine(stateDirectory, PersistenceDatabase.SqliteFileName));
        }

        var lines = new List<string>();
        foreach (var plugin in new[] { JournalPluginId, SnapshotPluginId })
        {
            if (config.GetString(plugin + ".provider-name", "") == "") lines.Add($"{plugin}.provider-name = {Quote(provider)}");
            if (config.GetString(plugin + ".connection-string", "") == "") lines.Add($"{plugin}.connection-string = {Quote(connection)}");
        }
        return lines.Count == 0 ? config : ConfigurationFactory.ParseString(string.Join("\n", lines)).WithFallback(config);
    }

    /// <summary>A complete persistence configuration on the SQLite file <paramref name="file"/> (tests, tools).</summary>
    public static Akka.Configuration.Config ForSqliteFile(string file, int? snapshotEvery = null)
    {
        var config = Embedded();
        if (snapshotEvery != null) config = ConfigurationFactory.ParseString($"sharelora.persistence.snapshot-every = {snapshotEvery}").WithFallback(config);
        config = ConfigurationFactory.ParseString($"sharelora.persistence.connection-string = {Quote(SqliteConnectionString(file))}").WithFallback(config);
        return Resolve(config, Path.GetDirectoryName(Path.GetFullPath(file))!);
    }

    /// <summary>A complete persistence configuration on the PostgreSQL database of <paramref name="connectionString"/>.</summary>
    public static Akka.Configuration.Config ForPostgres(string connectionString, string providerName = "PostgreSQL.15", int? snapshotEvery = null)
    {
        var config = Embedded();
        if (snapshotEvery != null) config = ConfigurationFactory.ParseString($"sharelora.persistence.snapshot-every = {snapshotEvery}").WithFallback(config);
        config = ConfigurationFactory.ParseString(
            $"sharelora.persistence.provider-name = {Quote(providerName)}\nsharelora.persistence.connection-string = {Quote(connectionString)}").WithFallback(config);
        return Resolve(config, ".");
    }

    private static string SqliteConnectionString(string file) =>
        new SqliteConnectionStringBuilder { DataSource = Path.GetFullPath(file) }.ToString();

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
