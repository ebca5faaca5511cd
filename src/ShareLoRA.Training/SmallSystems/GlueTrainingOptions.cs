using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Tasks.Glue;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// One GLUE fine-tuning run: the task, the adapter method on query/value, the hyperparameters and the run length.
/// <see cref="Steps"/> (when set) overrides <see cref="GlueHyperparameters.Epochs"/>; <see cref="EvalEvery"/> 0 means
/// evaluate on dev at the end of every epoch (and at the end of the run).
/// </summary>
public sealed record GlueTrainingOptions(
    GlueTaskSpec Task,
    AdapterMethod Method,
    GlueHyperparameters Hyper,
    int? Steps = null,
    int? Epochs = null,
    int EvalEvery = 0,
    int EvalBatchSize = 32,
    long Seed = 0,
    bool EvaluateAtStart = true);
