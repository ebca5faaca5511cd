namespace ShareLoRA.Training.Optimization;

/// <summary>The learning-rate schedules of Hugging Face transformers' get_*_schedule(_with_warmup).</summary>
public enum LearningRateScheduleKind
{
    /// <summary>get_constant_schedule: 1.</summary>
    Constant,
    /// <summary>get_constant_schedule_with_warmup: linear warm-up, then 1.</summary>
    ConstantWithWarmup,
    /// <summary>get_linear_schedule_with_warmup: linear warm-up, then linear decay to 0 at the last step.</summary>
    Linear,
    /// <summary>get_cosine_schedule_with_warmup: linear warm-up, then half a cosine (by default) down to 0.</summary>
    Cosine,
}

/// <summary>
/// A learning rate as a function of the optimizer step, with the formulas of Hugging Face transformers'
/// LambdaLR schedules so runs are comparable to the paper's (e.g. "lr 2e-4 constant with warmup ratio 0.03").
/// The step given to <see cref="Multiplier"/> is the number of optimizer steps already taken: the first update
/// uses step 0, as LambdaLR does before its first scheduler.step() (so warm-up starts at lr 0).
/// </summary>
/// <param name="Kind">Which formula.</param>
/// <param name="PeakLearningRate">The optimizer's lr, reached at the end of warm-up.</param>
/// <param name="WarmupSteps">Steps of linear warm-up from 0 (ignored by Constant).</param>
/// <param name="TotalSteps">num_training_steps (used by Linear and Cosine).</param>
/// <param name="NumCycles">Cosine only: number of cosine waves over the decay (HF default 0.5: from 1 down to 0).</param>
public sealed record LearningRateSchedule(
    LearningRateScheduleKind Kind,
    double PeakLearningRate,
    int WarmupSteps = 0,
    int TotalSteps = 0,
    double NumCycles = 0.5)
{
    /// <summary>The learning rate for the update after <paramref name="step"/> optimizer steps: peak x multiplier.</summary>
    public double At(int step) => PeakLearningRate * Multiplier(step);

    /// <summary>The LambdaLR factor at <paramref name="step"/> (HF lr_lambda).</summary>
    public double Multiplier(int step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), $"step must be >= 0 (got {step})");
        if (Kind == LearningRateScheduleKind.Constant) return 1.0;
        if (step < WarmupSteps) return (double)step / Math.Max(1, WarmupSteps);
        return Kind switch
        {
            LearningRateScheduleKind.ConstantWithWarmup => 1.0,
            LearningRateScheduleKind.Linear =>
                Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps)),
            LearningRateScheduleKind.Cosine => Cosine(step),
            _ => throw new ArgumentOutOfRangeException(nameof(Kind)),
        };
    }

    // As in HF, progress is not clamped to 1: past TotalSteps the cosine rises again; training never goes there.
    private double Cosine(int step)
    {
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return Math.Max(0.0, 0.5 * (1.0 + Math.Cos(Math.PI * NumCycles * 2.0 * progress)));
    }

    /// <summary>HF TrainingArguments.get_warmup_steps: explicit steps if > 0, else ceil(ratio x total).</summary>
    public static int WarmupStepsFor(int totalSteps, double warmupRatio, int warmupSteps = 0) =>
        warmupSteps > 0 ? warmupSteps : (int)Math.Ceiling(totalSteps * warmupRatio);

    /// <summary>Parses an HF lr_scheduler_type name: constant, constant_with_warmup, linear, cosine ("-" accepted for "_").</summary>
    public static LearningRateScheduleKind ParseKind(string? name, string field = "lr_scheduler_type") =>
        name?.Trim().ToLowerInvariant().Replace('-', '_') switch
        {
            "constant" => LearningRateScheduleKind.Constant,
            "constant_with_warmup" => LearningRateScheduleKind.ConstantWithWarmup,
            "linear" => LearningRateScheduleKind.Linear,
            "cosine" => LearningRateScheduleKind.Cosine,
            _ => throw new ArgumentException($"{field} must be one of constant, constant_with_warmup, linear, cosine (got '{name}')"),
        };
}
