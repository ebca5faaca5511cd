namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// The LoRA repo's GPT-2 E2E settings (examples/NLG README, gpt2_ft.py flags): LoRA on q and v of c_attn, r 4,
/// alpha 32, lora dropout 0.1, AdamW lr 2e-4 with weight decay 0.01, linear schedule with 500 warm-up steps,
/// label smoothing 0.1, batch 8, 5 epochs, seq_len 512, no gradient clipping (--clip 0.0).
/// </summary>
public sealed record E2eHyperparameters(
    double LearningRate = 2e-4,
    int WarmupSteps = 500,
    int Epochs = 5,
    int BatchSize = 8,
    int MaxSeqLen = 512,
    int Rank = 4,
    double Alpha = 32,
    double Dropout = 0.1,
    double WeightDecay = 0.01,
    double LabelSmoothing = 0.1,
    double MaxGradNorm = 0.0)
{
    /// <summary>The repo's preset.</summary>
    public static E2eHyperparameters LoraRepo { get; } = new();
}
