namespace ShareLoRA.Training.Evaluation;

/// <summary>One MMLU item: the question, its four choices (A–D), the 0-based index of the right one, and "file:line".</summary>
public sealed record MmluQuestion(string Question, IReadOnlyList<string> Choices, int Answer, string Origin)
{
    /// <summary>The answer letters in choice order.</summary>
    public static readonly IReadOnlyList<string> Letters = ["A", "B", "C", "D"];

    public string AnswerLetter => Letters[Answer];
}
