namespace ShareLoRA.Training.Jobs;

/// <summary>The "optim" section: AdamW and the learning-rate schedule.</summary>
/// <param name="Lr">Peak learning rate (default 2e-4, QLoRA's LLaMA-1/2 value; the paper's LLaMA-3-8B runs use 1e-4).</param>
/// <param name="WeightDecay">Decoupled weight decay (default 0).</param>
/// <param name="Betas">AdamW betas (default [0.9, 0.999]).</param>
/// <param name="Eps">AdamW epsilon (default 1e-8).</param>
/// <param name="Schedule">"constant" (default), "linear" (decay to 0 at the last step) or "cosine"; all after warmup.</param>
/// <param name="WarmupSteps">Linear warmup from 0 over this many steps (default 0; QLoRA's ratio 0.03 is 0.03 x steps).</param>
/// <param name="MaxGradNorm">Clip the global gradient norm (shared tensors counted once) to this; 0 = no clipping (default 0.3).</param>
public sealed record OptimConfig(
    double Lr,
    double WeightDecay,
    (double Beta1, double Beta2) Betas,
    double Eps,
    string Schedule,
    int WarmupSteps,
    double MaxGradNorm)
{
    public const double DefaultLr = 2e-4;
    public const double DefaultEps = 1e-8;
    public const string DefaultSchedule = "constant";
    public const double DefaultMaxGradNorm = 0.3;
    public static readonly (double Beta1, double Beta2) DefaultBetas = (0.9, 0.999);
    public static readonly IReadOnlyList<string> Schedules = ["constant", "linear", "cosine"];
}
