using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using ShareLoRA.TestSupport;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// One `dotnet sharelora.dll ...` child process with its output captured. Dispose kills it (and its children) if it
/// is still running, so a failing test never leaves nodes behind.
/// </summary>
internal sealed class CliProcess : IDisposable
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private CliProcess(Process process) => Process = process;

    public Process Process { get; }
    public int Id => Process.Id;
    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    /// <summary>The CLI built beside this test assembly's configuration (the test project builds it).</summary>
    public static string CliDll
    {
        get
        {
            var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name; // bin/<Configuration>/net10.0
            var dll = Path.Combine(SharedAssets.RepoRoot, "src", "ShareLoRA.Cli", "bin", configuration, "net10.0", "sharelora.dll");
            if (!File.Exists(dll)) throw new FileNotFoundException($"the CLI is not built: {dll} (build tests/ShareLoRA.Cluster.Tests)");
            return dll;
        }
    }

    public static CliProcess Start(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(CliDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = new Process { StartInfo = info };
        var cli = new CliProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (cli._stdout) cli._stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (cli._stderr) cli._stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs to completion (bounded) and returns the exit code.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string workingDirectory, TimeSpan bound, params string[] args)
    {
        using var cli = Start(workingDirectory, args);
        if (!cli.Process.WaitForExit(bound))
            throw new TimeoutException($"sharelora {string.Join(' ', args)} did not finish within {bound.TotalSeconds:0} s");
        cli.Process.WaitForExit(); // drains the output readers
        return (cli.Process.ExitCode, cli.Stdout, cli.Stderr);
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SysKill(int pid, int signal);

    /// <summary>Sends SIGTERM (graceful leave), as a service manager or `kill PID` would.</summary>
    public void Terminate() => SysKill(Process.Id, 15);

    public void Dispose()
    {
        try
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.WaitForExit(5000);
        }
        catch (InvalidOperationException) { /* never started or already gone */ }
        Process.Dispose();
    }
}
