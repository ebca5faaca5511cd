namespace ShareLoRA.Cli;

/// <summary>Entry point of the sharelora command-line program.</summary>
public static class Program
{
    public static int Main(string[] args) => CliApp.Run(args);
}
