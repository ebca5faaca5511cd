using System.Diagnostics;

namespace ShareLoRA.Cli.Tests;

/// <summary>Runs the built sharelora CLI (`dotnet sharelora.dll ...`) as a separate process and captures its output.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "sharelora.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("sharelora " + string.Join(" ", args) + " did not finish in 60 s");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
