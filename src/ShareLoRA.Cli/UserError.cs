namespace ShareLoRA.Cli;

/// <summary>
/// An expected failure the user can fix (bad path, bad argument, bad file). The CLI prints its message as one line
/// on stderr and exits with code 2; no stack trace. Library layers throw their own exception types, which
/// <see cref="CliApp"/> also maps to one line (see <see cref="CliApp.IsExpected"/>).
/// </summary>
public sealed class UserError(string message) : Exception(message);
