using ShareLoRA.Training.Metrics;

namespace ShareLoRA.Training.Trainer;

/// <summary>What a finished training run reports: every step's metrics, the eval losses before and after training
/// (null without an eval set), the task's eval metrics of those evaluations (a GLUE job's dev_accuracy, ...; null
/// without a task), and where its files are.</summary>
public sealed record TrainingResult(
    IReadOnlyList<StepMetrics> Steps,
    double? InitialEvalLoss,
    double? FinalEvalLoss,
    string OutputDirectory,
    string AdapterDirectory,
    EvalMetrics? InitialEvalMetrics = null,
    EvalMetrics? FinalEvalMetrics = null);
