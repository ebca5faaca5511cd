namespace ShareLoRA.Training.Data;

/// <summary>
/// The Alpaca prompt templates exactly as QLoRA (and so ShareLoRA) format them; the model's answer follows
/// "### Response: " with its trailing space. The no-input template is used only when input is the empty string.
/// </summary>
public static class AlpacaPrompt
{
    public const string WithInputPrefix =
        "Below is an instruction that describes a task, paired with an input that provides further context. " +
        "Write a response that appropriately completes the request.\n\n### Instruction:\n";

    public const string WithoutInputPrefix =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
        "### Instruction:\n";

    public const string InputHeader = "\n\n### Input:\n";
    public const string ResponseHeader = "\n\n### Response: ";

    /// <summary>The source text (prompt) of an Alpaca record.</summary>
    public static string Format(string instruction, string input) =>
        input.Length == 0 // QLoRA tests input != "": whitespace-only input keeps the input template
            ? WithoutInputPrefix + instruction + ResponseHeader
            : WithInputPrefix + instruction + InputHeader + input + ResponseHeader;
}
