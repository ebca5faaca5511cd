namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// A greedy continuation: the generated ids, their text cut before the first stop string, and why it ended
/// ("stop-string", "eos" or "length").
/// </summary>
public sealed record TextCompletion(IReadOnlyList<int> TokenIds, string Text, string StopReason);
