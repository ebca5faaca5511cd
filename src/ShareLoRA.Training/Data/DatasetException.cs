namespace ShareLoRA.Training.Data;

/// <summary>
/// Data that cannot be trained on, with a one-line message naming the file and line ("data/train.jsonl:17: missing field
/// 'instruction'"). Derives from <see cref="FormatException"/> so the CLI reports it as one line without a stack trace.
/// </summary>
public sealed class DatasetException(string message) : FormatException(message);
