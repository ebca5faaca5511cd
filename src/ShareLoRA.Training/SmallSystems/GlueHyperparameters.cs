using ShareLoRA.Training.Tasks.Glue;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// The LoRA repo's roberta-base GLUE settings for one task (LoRA paper Table 9 / examples/NLU scripts, written down
/// from memory of them, see docs/SMALL-SYSTEMS.md): LoRA on query and value, r 8, alpha 8, AdamW with weight decay 0.1,
/// batch 16, linear schedule with warm-up ratio 0.06, max sequence length 512.
/// </summary>
public sealed record GlueHyperparameters(
    double LearningRate,
    int Epochs,
    int BatchSize = 16,
    double WarmupRatio = 0.06,
    int MaxSeqLen = 512,
    int Rank = 8,
    double Alpha = 8,
    double WeightDecay = 0.1,
    double MaxGradNorm = 1.0,
    double Dropout = 0.0)
{
    /// <summary>The roberta-base preset of a task (QNLI included; MNLI/QQP are not read here).</summary>
    public static GlueHyperparameters RobertaBase(GlueTask task) => task switch
    {
        GlueTask.Sst2 => new(5e-4, 60),
        GlueTask.Mrpc => new(4e-4, 30),
        GlueTask.Cola => new(4e-4, 80),
        GlueTask.Qnli => new(4e-4, 25),
        GlueTask.Rte => new(5e-4, 80),
        GlueTask.Stsb => new(4e-4, 40),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };
}
