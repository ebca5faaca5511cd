using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Data;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// MMLU by the QLoRA protocol: per test question one prompt (header, the first k dev examples of the subject, the
/// question ending in "Answer:"), one forward pass, argmax over the logits of the A–D tokens (<see cref="ChoiceTokens"/>)
/// at the last prompt position. Prompts longer than the model's max positions are cut from the left (<see cref="PromptIds"/>).
/// </summary>
public sealed class MmluEvaluator(IEvaluationModel model, ITextTokenizer tokenizer)
{
    /// <summary>On a whole model in this process.</summary>
    public MmluEvaluator(LlamaModel model, ITextTokenizer tokenizer, IModelAdapters? adapters = null)
        : this(new LocalEvaluationModel(model, adapters), tokenizer) { }

    public ChoiceTokens Choices { get; } = ChoiceTokens.Resolve(tokenizer);

    public MmluReport Evaluate(string dataDir, MmluOptions options, Action<MmluSubjectDone>? onSubject = null, Action<MmluPrediction>? onPrediction = null)
    {
        if (options.Shots < 0) throw new ArgumentException($"shots must be >= 0 (got {options.Shots})");
        if (options.Limit is < 1) throw new ArgumentException($"limit must be >= 1 (got {options.Limit})");
        var available = MmluData.Subjects(dataDir);
        var subjects = options.Subjects ?? available;
        foreach (var s in subjects)
            if (!available.Contains(s))
                throw new ArgumentException($"unknown MMLU subject \"{s}\": no {MmluData.TestFile(dataDir, s)}");

        var board = new MmluScoreboard();
        for (int k = 0; k < subjects.Count; k++)
        {
            var subject = subjects[k];
            var score = EvaluateSubject(dataDir, subject, options, board, onPrediction, out int truncated);
            onSubject?.Invoke(new MmluSubjectDone(subject, k + 1, subjects.Count, score, truncated));
        }
        return board.Report();
    }

    private SubjectScore EvaluateSubject(string dataDir, string subject, MmluOptions options, MmluScoreboard board,
        Action<MmluPrediction>? onPrediction, out int truncated)
    {
        IReadOnlyList<MmluQuestion> shots = [];
        if (options.Shots > 0)
        {
            var devFile = MmluData.DevFile(dataDir, subject);
            var dev = MmluData.ReadFile(devFile);
            if (dev.Count < options.Shots)
                throw new DatasetException($"{devFile}: {options.Shots} shots asked but the file holds {dev.Count} examples");
            shots = dev.Take(options.Shots).ToArray();
        }
        var test = MmluData.ReadFile(MmluData.TestFile(dataDir, subject));
        if (options.Limit is int limit) test = test.Take(limit).ToArray();

        truncated = 0;
        var prompts = new List<IReadOnlyList<int>>(test.Count);
        foreach (var q in test)
        {
            prompts.Add(PromptIds.Build(tokenizer, MmluPrompt.Build(subject, shots, q), model.Config.MaxPositionEmbeddings, out bool cut));
            if (cut) truncated++;
        }
        var logits = LastPositionLogits.Compute(model, prompts, Choices.Ids, options.BatchSize);
        for (int i = 0; i < test.Count; i++)
        {
            int predicted = ArgMax(logits[i]);
            board.Add(subject, predicted, test[i].Answer);
            onPrediction?.Invoke(new MmluPrediction(subject, i, logits[i], predicted, test[i].Answer));
        }
        return board.Subject(subject);
    }

    /// <summary>Index of the largest value; the first wins ties.</summary>
    public static int ArgMax(IReadOnlyList<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Count; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
