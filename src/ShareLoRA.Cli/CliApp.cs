using System.CommandLine;

namespace ShareLoRA.Cli;

/// <summary>Builds the command tree and runs it; expected failures become one line on stderr and exit code 2.</summary>
public static class CliApp
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("ShareLoRA.Actors: distributed ShareLoRA fine-tuning of LLaMA-family models.");
        return root.Parse(args).Invoke();
    }
}
