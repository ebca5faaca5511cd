using Microsoft.Data.Sqlite;

namespace ShareLoRA.Cluster.Tests.Hosting;

/// <summary>
/// A fresh coordinator state folder (--state) for each seed a test starts in this process: without one, every seed
/// would share the default LOGS/state/coordinator.db under the test's working folder, and one test's job history (or
/// an interrupted job the coordinator resumes) would leak into the next. The folders are deleted when the process exits.
/// </summary>
internal static class SeedStateFolder
{
    private static readonly List<string> Created = [];

    static SeedStateFolder() => AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();

    /// <summary>A new, not yet existing folder under the temp folder (the seed creates it).</summary>
    public static string New()
    {
        var path = Path.Combine(Path.GetTempPath(), "sharelora-seed-state-" + Guid.NewGuid().ToString("N")[..12]);
        lock (Created) Created.Add(path);
        return path;
    }

    private static void DeleteAll()
    {
        SqliteConnection.ClearAllPools();
        lock (Created)
            foreach (var path in Created)
                try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
                catch (IOException) { /* best effort: a temp folder left behind, not a failed run */ }
    }
}
