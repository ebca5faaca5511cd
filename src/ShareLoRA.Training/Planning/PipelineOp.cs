namespace ShareLoRA.Training.Planning;

/// <summary>Forward or backward pass of one micro-batch on one stage.</summary>
public enum PipelineOpKind
{
    Forward,
    Backward,
}

/// <summary>One entry of a stage's schedule: F(mb) or B(mb), micro-batch index 0-based.</summary>
public readonly record struct PipelineOp(PipelineOpKind Kind, int MicroBatch)
{
    public static PipelineOp F(int microBatch) => new(PipelineOpKind.Forward, microBatch);

    public static PipelineOp B(int microBatch) => new(PipelineOpKind.Backward, microBatch);

    /// <summary>"F3" or "B3".</summary>
    public override string ToString() => (Kind == PipelineOpKind.Forward ? "F" : "B") + MicroBatch;
}
