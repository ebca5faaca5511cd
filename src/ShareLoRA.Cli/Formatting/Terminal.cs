using Spectre.Console;

namespace ShareLoRA.Cli.Formatting;

/// <summary>Whether to draw rich output (tables, live bars) or write plain lines that logs and pipes keep readable.</summary>
public static class Terminal
{
    /// <summary>True when stdout is a terminal and the CI variable is not "true".</summary>
    public static bool IsInteractive => IsInteractiveFor(Console.IsOutputRedirected, Environment.GetEnvironmentVariable("CI"));

    /// <summary>True when stderr is a terminal and the CI variable is not "true" (progress of commands whose stdout is the result).</summary>
    public static bool IsErrorInteractive => IsInteractiveFor(Console.IsErrorRedirected, Environment.GetEnvironmentVariable("CI"));

    /// <summary>The rule behind <see cref="IsInteractive"/>, pure for tests: rich output only on a terminal outside CI.</summary>
    public static bool IsInteractiveFor(bool outputRedirected, string? ciVariable) =>
        !outputRedirected && !string.Equals(ciVariable?.Trim(), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// A Spectre console over <paramref name="output"/>, by default the current <see cref="Console.Out"/> (which tests may
    /// have swapped); <see cref="Console.Error"/> for progress beside a result on stdout.
    /// </summary>
    public static IAnsiConsole Rich(TextWriter? output = null) =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output ?? Console.Out) });
}
