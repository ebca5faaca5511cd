using Spectre.Console;

namespace ShareLoRA.Cli.Formatting;

/// <summary>Whether to draw rich output (tables, live bars) or write plain lines that logs and pipes keep readable.</summary>
public static class Terminal
{
    /// <summary>True when stdout is a terminal and the CI variable is not "true".</summary>
    public static bool IsInteractive => IsInteractiveFor(Console.IsOutputRedirected, Environment.GetEnvironmentVariable("CI"));

    /// <summary>The rule behind <see cref="IsInteractive"/>, pure for tests: rich output only on a terminal outside CI.</summary>
    public static bool IsInteractiveFor(bool outputRedirected, string? ciVariable) =>
        !outputRedirected && !string.Equals(ciVariable?.Trim(), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>A Spectre console over the current <see cref="Console.Out"/> (which tests may have swapped).</summary>
    public static IAnsiConsole Rich() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
}
