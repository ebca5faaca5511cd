using Microsoft.Data.Sqlite;
using Npgsql;

namespace ShareLoRA.Cluster.Persistence;

/// <summary>
/// The database behind the Akka.Persistence SQL journal and snapshot store of a node that can host the coordinator:
/// its linq2db provider name (SQLite.MS, PostgreSQL.15, ...) and connection string, as
/// <see cref="PersistenceConfig.Resolve"/> leaves them in <c>akka.persistence.journal.sql</c>. Knows how to name itself
/// in an error (a file path, or host:port/database without the password) and how to check, before the ActorSystem
/// starts, that it can be opened and written (otherwise the SQL plugin retries in a loop and the coordinator only
/// notices when its recovery times out).
/// </summary>
public sealed record PersistenceDatabase(string ProviderName, string ConnectionString)
{
    /// <summary>The SQLite file name inside the state folder.</summary>
    public const string SqliteFileName = "coordinator.db";

    public bool IsSqlite => ProviderName.StartsWith("SQLite", StringComparison.OrdinalIgnoreCase);

    public bool IsPostgres => ProviderName.StartsWith("PostgreSQL", StringComparison.OrdinalIgnoreCase);

    /// <summary>The journal's database in <paramref name="config"/>, or null when the node has no SQL journal
    /// (worker nodes: only nodes that can host the coordinator configure persistence).</summary>
    public static PersistenceDatabase? FromConfig(Akka.Configuration.Config config)
    {
        if (config.GetString("akka.persistence.journal.plugin", "") != PersistenceConfig.JournalPluginId) return null;
        return new PersistenceDatabase(
            config.GetString(PersistenceConfig.JournalPluginId + ".provider-name", ""),
            config.GetString(PersistenceConfig.JournalPluginId + ".connection-string", ""));
    }

    /// <summary>The SQLite file (absolute), or null for another provider or an in-memory SQLite database.</summary>
    public string? SqliteFile
    {
        get
        {
            if (!IsSqlite) return null;
            var builder = new SqliteConnectionStringBuilder(ConnectionString);
            if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:") return null;
            return Path.GetFullPath(builder.DataSource);
        }
    }

    /// <summary>How a user recognises the database: "SQLite file /path/coordinator.db" or
    /// "PostgreSQL database 'db' at host:5432 (user u)". Never shows a password.</summary>
    public string Description
    {
        get
        {
            try
            {
                if (IsSqlite) return SqliteFile is { } file ? $"SQLite file {file}" : "in-memory SQLite database";
                if (IsPostgres)
                {
                    var pg = new NpgsqlConnectionStringBuilder(ConnectionString);
                    return $"PostgreSQL database '{pg.Database}' at {pg.Host}:{pg.Port} (user {pg.Username})";
                }
            }
            catch (ArgumentException)
            {
                // A malformed connection string: EnsureUsable reports it; the description must not throw.
            }
            return $"{ProviderName} database";
        }
    }

    /// <summary>
    /// Opens the database once and checks it can be written; for SQLite creates the state folder first. Throws
    /// <see cref="PersistenceDatabaseException"/> with one line naming the file or server and what went wrong.
    /// </summary>
    public void EnsureUsable()
    {
        if (string.IsNullOrWhiteSpace(ProviderName))
            throw new PersistenceDatabaseException("coordinator state: sharelora.persistence.provider-name is empty (SQLite.MS or PostgreSQL.15)");
        if (string.IsNullOrWhiteSpace(ConnectionString))
            throw new PersistenceDatabaseException($"coordinator state: sharelora.persistence.connection-string is empty for provider {ProviderName}");
        if (IsSqlite) EnsureSqliteUsable();
        else if (IsPostgres) EnsurePostgresUsable();
        // Other linq2db providers are passed through untested: the plugin reports their errors itself.
    }

    private void EnsureSqliteUsable()
    {
        SqliteConnectionStringBuilder builder;
        try
        {
            builder = new SqliteConnectionStringBuilder(ConnectionString);
        }
        catch (ArgumentException e)
        {
            throw new PersistenceDatabaseException($"coordinator state: SQLite connection string is malformed: {e.Message}");
        }
        if (SqliteFile is not { } file) return;
        var folder = Path.GetDirectoryName(file)!;
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PersistenceDatabaseException($"coordinator state: cannot create the state folder {folder} for {file}: {e.Message}");
        }
        // A probe connection outside the pool, so the file is closed again before the plugin opens it.
        builder.Pooling = false;
        builder.Mode = SqliteOpenMode.ReadWriteCreate;
        try
        {
            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            // schema_version reads the header (a file that is not a database fails here); the rolled-back CREATE needs
            // a write lock and a writable file, so a read-only file or folder fails too (even for root, on a read-only mount).
            command.CommandText = "PRAGMA schema_version; BEGIN IMMEDIATE; CREATE TABLE sharelora_write_probe(x INTEGER); ROLLBACK;";
            command.ExecuteNonQuery();
        }
        catch (SqliteException e)
        {
            throw new PersistenceDatabaseException(
                $"coordinator state: SQLite file {file} is not usable: {OneLine(e.Message)} " +
                "(a damaged file: move it away to start with no job history, or give another --state folder)", e);
        }
    }

    private void EnsurePostgresUsable()
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false };
            using var connection = new NpgsqlConnection(builder.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            command.ExecuteScalar();
        }
        catch (Exception e) when (e is NpgsqlException or ArgumentException or InvalidOperationException or TimeoutException)
        {
            throw new PersistenceDatabaseException($"coordinator state: cannot use {Description}: {OneLine(e.Message)}", e);
        }
    }

    private static string OneLine(string message) => message.Split('\n')[0].Trim();
}

/// <summary>The coordinator's state database cannot be opened or written; the message is one line naming it.</summary>
public sealed class PersistenceDatabaseException(string message, Exception? inner = null) : Exception(message, inner);
