namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// The few-shot GSM8K prompt: each solved example as "Question: {question}\nAnswer: {answer}\n\n" (the answer verbatim
/// from the file, calculator annotations and "#### N" line included, so the model learns to end with "#### N"), then
/// "Question: {question}\nAnswer:". Generation stops when the model starts the next "\n\nQuestion:".
/// </summary>
public static class Gsm8kPrompt
{
    public const string StopString = "\n\nQuestion:";

    public static string Shot(Gsm8kProblem example) => $"Question: {example.Question}\nAnswer: {example.Answer}\n\n";

    public static string Build(IReadOnlyList<Gsm8kProblem> shots, string question) =>
        string.Concat(shots.Select(Shot)) + $"Question: {question}\nAnswer:";
}
