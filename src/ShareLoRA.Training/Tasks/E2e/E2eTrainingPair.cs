namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// A GPT-2 fine-tuning pair as the LoRA repository builds it: the linearised MR as context and one reference as the
/// completion. LoRA encodes the completion with a leading space (" " + completion) and, when asked, appends EOS.
/// </summary>
public sealed record E2eTrainingPair(string Context, string Completion);
