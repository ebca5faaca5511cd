namespace ShareLoRA.Model.Adapters;

/// <summary>
/// What the adapters need to know about the forward pass about to run: the optimizer step and micro-batch it
/// belongs to (dropout masks are a function of these, never of a global RNG stream) and whether it trains.
/// </summary>
public sealed record AdapterForwardContext(long Step, int MicroBatch, bool Training)
{
    /// <summary>Evaluation: no dropout.</summary>
    public static AdapterForwardContext Eval { get; } = new(0, 0, false);

    public static AdapterForwardContext Train(long step, int microBatch) => new(step, microBatch, true);
}
