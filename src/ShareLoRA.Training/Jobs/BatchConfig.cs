namespace ShareLoRA.Training.Jobs;

/// <summary>The "batch" section: one optimizer step is <see cref="MicroBatches"/> micro-batches of
/// <see cref="MicroBatchSize"/> sequences (gradient accumulation; also the pipeline's micro-batches).</summary>
/// <param name="MicroBatchSize">Sequences per micro-batch (default 1, the paper's 1 x 16).</param>
/// <param name="MicroBatches">Micro-batches per optimizer step (default 16).</param>
public sealed record BatchConfig(int MicroBatchSize, int MicroBatches)
{
    public const int DefaultMicroBatchSize = 1;
    public const int DefaultMicroBatches = 16;
}
