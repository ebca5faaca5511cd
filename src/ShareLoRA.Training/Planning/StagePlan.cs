namespace ShareLoRA.Training.Planning;

/// <summary>
/// One pipeline stage of a <see cref="PartitionPlan"/>: its contiguous layer range [FirstLayer, EndLayer), whether it
/// holds the embeddings (first stage) or the final norm, lm_head and loss (last stage), and its estimated memory.
/// </summary>
/// <param name="Index">Stage index, 0 = first.</param>
/// <param name="FirstLayer">First decoder layer (global, 0-based).</param>
/// <param name="EndLayer">One past the last decoder layer.</param>
/// <param name="HasEmbedding">Holds the token embeddings (stage 0).</param>
/// <param name="HasHead">Holds the final norm, lm_head and the loss (last stage).</param>
/// <param name="BaseWeightBytes">Frozen weights of its layers, embeddings and head at the weight dtype.</param>
/// <param name="AdapterBytes">Adapter weights and gradients: its layers' own tensors plus its replica of the shared ones.</param>
/// <param name="OptimizerBytes">AdamW fp32 m and v (plus an fp32 master copy when adapters are narrower than fp32) of its
/// layers' own tensors only; shared tensors' optimizer state lives on the coordinator.</param>
/// <param name="ActivationBytes">Saved activations of the in-flight bound of micro-batches (<see cref="PipelineSchedule.InFlightBound(int)"/>).</param>
/// <param name="BoundaryBytes">Bytes of one activation message to the next stage per micro-batch (the gradient coming back is the same size); 0 on the last stage.</param>
/// <param name="ForwardFlops">Forward FLOPs of one micro-batch.</param>
/// <param name="BackwardFlops">Backward FLOPs of one micro-batch.</param>
/// <param name="DeviceMemoryBytes">The device's memory, or null when unlimited.</param>
public sealed record StagePlan(
    int Index,
    int FirstLayer,
    int EndLayer,
    bool HasEmbedding,
    bool HasHead,
    long BaseWeightBytes,
    long AdapterBytes,
    long OptimizerBytes,
    long ActivationBytes,
    long BoundaryBytes,
    double ForwardFlops,
    double BackwardFlops,
    long? DeviceMemoryBytes)
{
    public int LayerCount => EndLayer - FirstLayer;

    /// <summary>Base weights + adapters + optimizer state + activations.</summary>
    public long TotalBytes => BaseWeightBytes + AdapterBytes + OptimizerBytes + ActivationBytes;

    /// <summary>True when the device memory is unknown or holds <see cref="TotalBytes"/>.</summary>
    public bool Fits => DeviceMemoryBytes is not { } limit || TotalBytes <= limit;

    /// <summary>"stage 1 (layers 8-16)" with ", embeddings"/", head" when held: how errors and logs name a stage.</summary>
    public string Describe() =>
        $"stage {Index} (layers {FirstLayer}-{EndLayer - 1}{(HasEmbedding ? ", embeddings" : "")}{(HasHead ? ", head" : "")})";

    public override string ToString() =>
        $"{Describe()}: base {Gib(BaseWeightBytes)}, adapters {Gib(AdapterBytes)}, optimizer {Gib(OptimizerBytes)}, " +
        $"activations {Gib(ActivationBytes)}, total {Gib(TotalBytes)}" + (DeviceMemoryBytes is { } d ? $" of {Gib(d)}" : "");

    internal static string Gib(long bytes) =>
        (bytes / (1024.0 * 1024 * 1024)).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) + " GiB";
}
