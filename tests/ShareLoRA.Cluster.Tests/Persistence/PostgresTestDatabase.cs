using Npgsql;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary>
/// A fresh database on the PostgreSQL server named by SHARELORA_TEST_POSTGRES (an Npgsql connection string whose user
/// may CREATE DATABASE; .ci/run starts a throw-away server and sets it), dropped on dispose. Skips the test, saying why,
/// when the variable is not set.
/// </summary>
internal sealed class PostgresTestDatabase : IDisposable
{
    public const string Variable = "SHARELORA_TEST_POSTGRES";

    private readonly string _server;
    private readonly string _name = "sharelora_test_" + Guid.NewGuid().ToString("N")[..12];

    private PostgresTestDatabase(string server)
    {
        _server = server;
        Execute($"CREATE DATABASE {_name}");
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = _name }.ToString();
    }

    /// <summary>Connection string of the new database.</summary>
    public string ConnectionString { get; }

    public static PostgresTestDatabase CreateOrSkip()
    {
        var server = Environment.GetEnvironmentVariable(Variable);
        Skip.If(string.IsNullOrWhiteSpace(server),
            $"{Variable} is not set (an Npgsql connection string to a PostgreSQL server; .ci/run starts one when PostgreSQL is installed or installable)");
        return new PostgresTestDatabase(server!);
    }

    public long Count(string table, string persistenceId)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ToString());
        connection.Open();
        using var command = new NpgsqlCommand($"SELECT COUNT(*) FROM {table} WHERE persistence_id = @id", connection);
        command.Parameters.AddWithValue("id", persistenceId);
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Drops the database now, closing every connection to it (a server that lost it, for failure tests).</summary>
    public void Drop()
    {
        NpgsqlConnection.ClearAllPools();
        Execute($"DROP DATABASE IF EXISTS {_name} WITH (FORCE)");
    }

    public void Dispose() => Drop();

    private void Execute(string sql)
    {
        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_server) { Pooling = false }.ToString());
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        command.ExecuteNonQuery();
    }
}
