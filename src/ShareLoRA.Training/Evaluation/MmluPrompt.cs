namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// The MMLU prompt of the QLoRA protocol (Hendrycks' format): a header naming the subject, k solved dev examples,
/// then the test question ending in "Answer:". The model's next token is read as its choice.
/// </summary>
public static class MmluPrompt
{
    /// <summary>"The following are multiple choice questions (with answers) about {subject}.\n\n".</summary>
    public static string Header(string subjectName) =>
        $"The following are multiple choice questions (with answers) about {subjectName}.\n\n";

    /// <summary>"{question}\nA. ..\nB. ..\nC. ..\nD. ..\nAnswer:" plus " X\n\n" when the answer is included.</summary>
    public static string Example(MmluQuestion question, bool includeAnswer)
    {
        var text = new System.Text.StringBuilder(question.Question);
        for (int j = 0; j < question.Choices.Count; j++)
            text.Append('\n').Append(MmluQuestion.Letters[j]).Append(". ").Append(question.Choices[j]);
        text.Append("\nAnswer:");
        if (includeAnswer) text.Append(' ').Append(question.AnswerLetter).Append("\n\n");
        return text.ToString();
    }

    /// <param name="subjectStem">The file stem, e.g. "abstract_algebra".</param>
    /// <param name="shots">The solved examples, in order (the first k dev rows).</param>
    /// <param name="question">The test question; the prompt ends with its "Answer:".</param>
    public static string Build(string subjectStem, IReadOnlyList<MmluQuestion> shots, MmluQuestion question)
    {
        var text = new System.Text.StringBuilder(Header(MmluData.SubjectName(subjectStem)));
        foreach (var shot in shots) text.Append(Example(shot, includeAnswer: true));
        text.Append(Example(question, includeAnswer: false));
        return text.ToString();
    }
}
