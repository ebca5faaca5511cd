using Microsoft.Data.Sqlite;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary>A fresh folder under the system temp folder, deleted (with SQLite's pooled handles closed) on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sharelora-persistence-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a handle still open elsewhere leaves a temp folder behind, not a failed test.
        }
    }
}
