namespace ShareLoRA.Training.Jobs;

/// <summary>The "pipeline" section: how many stages the layers are cut into and how micro-batches flow.</summary>
/// <param name="Stages">Pipeline stages (default 1 = single process).</param>
/// <param name="Schedule">"1f1b" (default; one-forward-one-backward with a flush per step) or "gpipe".</param>
/// <param name="WireDtype">Dtype of activations and gradients between stages: "fp32" (default; bitwise comparable with the
/// single-process run) or "bf16" (half the bytes).</param>
public sealed record PipelineConfig(int Stages, string Schedule, string WireDtype)
{
    public const int DefaultStages = 1;
    public const string DefaultSchedule = "1f1b";
    public const string DefaultWireDtype = "fp32";
    public static readonly IReadOnlyList<string> Schedules = ["1f1b", "gpipe"];
    public static readonly IReadOnlyList<string> WireDtypes = ["fp32", "bf16"];
}
