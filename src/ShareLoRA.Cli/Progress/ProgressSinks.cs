using ShareLoRA.Cli.Formatting;

namespace ShareLoRA.Cli.Progress;

/// <summary>Picks the progress display for the current process: a live bar on a terminal outside CI, plain lines otherwise.</summary>
public static class ProgressSinks
{
    /// <summary>
    /// With <paramref name="quiet"/>, a <see cref="PlainProgressSink"/> that prints only the final summary; else a
    /// <see cref="LiveProgressSink"/> when stdout is a terminal and CI is not "true" (<see cref="Terminal.IsInteractive"/>);
    /// else a <see cref="PlainProgressSink"/> on stdout writing every <paramref name="everySteps"/> steps or 30 s.
    /// </summary>
    public static IProgressSink Create(bool quiet = false, int everySteps = 10) =>
        quiet ? new PlainProgressSink(Console.Out, everySteps, quiet: true)
        : Terminal.IsInteractive ? new LiveProgressSink(Terminal.Rich())
        : new PlainProgressSink(Console.Out, everySteps);

    /// <summary>
    /// As <see cref="Create"/> but on stderr, for commands whose stdout holds only the result (`eval`, whose --json output
    /// is piped): the live bar when stderr is a terminal outside CI (<see cref="Terminal.IsErrorInteractive"/>), else
    /// plain lines every <paramref name="everyItems"/> items or 30 s; with <paramref name="quiet"/> only the summary.
    /// </summary>
    public static IProgressSink CreateOnStandardError(bool quiet = false, int everyItems = 1) =>
        quiet ? new PlainProgressSink(Console.Error, everyItems, quiet: true)
        : Terminal.IsErrorInteractive ? new LiveProgressSink(Terminal.Rich(Console.Error))
        : new PlainProgressSink(Console.Error, everyItems);
}
