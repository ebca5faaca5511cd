namespace ShareLoRA.Training.Jobs;

/// <summary>
/// A job file (or a --set override) that cannot be used, with a one-line message naming the file and the JSON path:
/// <c>job.json: adapter.rank must be &gt; 0 (got 0)</c>. Derives from <see cref="FormatException"/> (InvalidDataException is sealed) so the CLI
/// reports it as one line without a stack trace.
/// </summary>
public sealed class JobConfigException(string message) : FormatException(message);
