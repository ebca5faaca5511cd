using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using ShareLoRA.TestSupport;

namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>One `sharelora` process (node, submit, ...) started from the built CLI, its output captured; killed on dispose.</summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NodeProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>The CLI built in the same configuration as this test assembly (the test project builds it).</summary>
    public static string CliDll
    {
        get
        {
            var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
            var dll = Path.Combine(SharedAssets.RepoRoot, "src", "ShareLoRA.Cli", "bin", configuration, "net10.0", "sharelora.dll");
            if (!File.Exists(dll)) throw new FileNotFoundException($"{dll}: build src/ShareLoRA.Cli first", dll);
            return dll;
        }
    }

    public static NodeProcess Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(CliDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["CI"] = "true"; // plain progress lines, no live terminal display
        var process = Process.Start(start)!;
        var node = new NodeProcess(process);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <summary>Waits for exit within <paramref name="timeout"/>; kills the process and fails the test when it does not end.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            Kill();
            throw new TimeoutException($"process {Id} did not end within {timeout.TotalSeconds:0} s; output:\n{Output}");
        }
        _process.WaitForExit(); // flush the output readers
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SysKill(int pid, int signal);

    /// <summary>SIGSTOP: freezes the process (e.g. the seed, so no further step is dispatched while a test kills a worker).</summary>
    public void Suspend() => SysKill(_process.Id, 19);

    /// <summary>SIGCONT after <see cref="Suspend"/>.</summary>
    public void Continue() => SysKill(_process.Id, 18);

    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException) { /* never started or already reaped */ }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
