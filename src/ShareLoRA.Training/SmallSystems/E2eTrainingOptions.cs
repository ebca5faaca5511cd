using ShareLoRA.Training.Adapters;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>One GPT-2 E2E run: method on q/v, hyperparameters, length (Steps overrides epochs), validation loss every N steps (0: each epoch).</summary>
public sealed record E2eTrainingOptions(
    AdapterMethod Method,
    E2eHyperparameters Hyper,
    int? Steps = null,
    int? Epochs = null,
    int EvalEvery = 0,
    long Seed = 0);

/// <summary>Losses of every step and the validation losses (step, loss) of a run.</summary>
public sealed record E2eTrainingResult(IReadOnlyList<double> Losses, IReadOnlyList<(int Step, double Loss)> ValidLosses, int Steps);
