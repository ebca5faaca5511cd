namespace ShareLoRA.TestSupport;

/// <summary>
/// Locates the ../shared folder that lies beside the repository for developers and CI (never for users).
/// Tests that need it call <see cref="RequireDirectory"/>, which skips the test with a visible reason when absent.
/// </summary>
public static class SharedAssets
{
    private static readonly Lazy<string?> Root = new(FindRoot);

    /// <summary>The shared folder, or null when it is not beside the repository.</summary>
    public static string? RootOrNull => Root.Value;

    /// <summary>The repository root (the folder holding ShareLoRA.Actors.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "ShareLoRA.Actors.sln"))) return dir.FullName;
            throw new InvalidOperationException("ShareLoRA.Actors.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>stories260K-hf: a real LLaMA-2-architecture checkpoint in Hugging Face layout.</summary>
    public static string Stories260K => RequireDirectory("models/stories260K-hf");

    /// <summary>Returns shared/RELATIVE or skips the calling test, naming what is missing.</summary>
    public static string RequireDirectory(string relative)
    {
        var root = Root.Value;
        Xunit.Skip.If(root == null, "../shared is not beside the repository (set SHARELORA_SHARED to its path); this test needs shared/" + relative);
        var path = Path.Combine(root!, relative);
        Xunit.Skip.IfNot(Directory.Exists(path) || File.Exists(path), "shared/" + relative + " is missing under " + root);
        return path;
    }

    private static string? FindRoot()
    {
        var env = Environment.GetEnvironmentVariable("SHARELORA_SHARED");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return Path.GetFullPath(env);
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ShareLoRA.Actors.sln")))
            {
                var candidate = Path.Combine(dir.Parent?.FullName ?? dir.FullName, "shared");
                return Directory.Exists(candidate) ? candidate : null;
            }
        }
        return null;
    }
}
