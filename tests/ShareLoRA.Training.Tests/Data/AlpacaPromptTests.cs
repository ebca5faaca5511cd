using ShareLoRA.Training.Data;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Training.Tests.Data;

public sealed class AlpacaPromptTests
{
    // SHARELORA.md's strings, its line wraps joined with a space.
    private const string WithInput =
        "Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response: ";

    private const string WithoutInput =
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response: ";

    [Fact]
    public void TemplatesAreByteExact()
    {
        Assert.Equal(WithInput.Replace("{instruction}", "Add.").Replace("{input}", "1 2"), AlpacaPrompt.Format("Add.", "1 2"));
        Assert.Equal(WithoutInput.Replace("{instruction}", "Greet."), AlpacaPrompt.Format("Greet.", ""));
        Assert.EndsWith("### Response: ", AlpacaPrompt.Format("x", ""));
    }

    [Fact]
    public void WhitespaceOnlyInputKeepsTheInputTemplateAsQLoRA()
    {
        Assert.Contains("### Input:\n \n\n### Response: ", AlpacaPrompt.Format("x", " "));
    }

    [SkippableFact]
    public void TemplatesMatchTheDesignDocument()
    {
        var doc = File.ReadAllText(Path.Combine(SharedAssets.RequireDirectory("design"), "SHARELORA.md"));
        Assert.Equal(FromDoc(doc, "Prompt with input: \""), AlpacaPrompt.Format("{instruction}", "{input}"));
        Assert.Equal(FromDoc(doc, "Without input: \""), AlpacaPrompt.Format("{instruction}", ""));
    }

    // The quoted template after `marker`, with markdown line wraps as spaces and \n escapes as newlines.
    private static string FromDoc(string doc, string marker)
    {
        var start = doc.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        var end = doc.IndexOf('"', start);
        return doc[start..end].Replace("\r", "").Replace("\n", " ").Replace("\\n", "\n");
    }
}
