using System.CommandLine;
using ShareLoRA.Cli.Commands;

namespace ShareLoRA.Cli;

/// <summary>Builds the command tree and runs it; expected failures become one line on stderr and exit code 2.</summary>
public static class CliApp
{
    /// <summary>Every command of the CLI; each command lives in its own file under Commands/.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("ShareLoRA.Actors: distributed ShareLoRA fine-tuning of LLaMA-family models.");
        foreach (var command in Commands())
            root.Subcommands.Add(command);
        return root;
    }

    private static IEnumerable<Command> Commands()
    {
        yield return GenerateCommand.Create();
        yield return ScoreCommand.Create();
        yield return ParamsCommand.Create();
        yield return CheckpointsCommand.Create();
        yield return MergeCommand.Create();
        yield return ExportCommand.Create();
        yield return PlanCommand.Create();
        yield return PlotCommand.Create();
        yield return SummaryCommand.Create();
        yield return EvalCommand.Create();
        yield return TrainCommand.Create();
        yield return InitDemoCommand.Create();
        yield return ResumeCommand.Create();
        yield return NodeCommand.Create();
        yield return StatusCommand.Create();
        yield return E2eMetricsCommand.Create();
        yield return CertsCommand.Create();
        yield return SubmitCommand.Create();
        yield return GlueCommand.Create();
        yield return E2eCommand.Create();
    }

    public static int Run(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line naming every problem instead of the full help text, so scripts and users see what is wrong.
            Console.Error.WriteLine("error: " + string.Join("; ", parse.Errors.Select(e => e.Message)) + " (see --help)");
            return 2;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsExpected(e))
        {
            Console.Error.WriteLine("error: " + e.Message);
            return 2;
        }
    }

    /// <summary>Exceptions that carry a user-facing one-line message rather than a bug.</summary>
    public static bool IsExpected(Exception e) =>
        e is UserError or ShareLoRA.Training.Planning.PlanningException or ShareLoRA.Training.Checkpoints.CheckpointException
            or ShareLoRA.Training.Jobs.JobConfigException or ShareLoRA.Training.Data.DatasetException
            or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
            or FormatException or ArgumentException or System.Text.Json.JsonException or UnauthorizedAccessException;
}
