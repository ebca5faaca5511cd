using ShareLoRA.Training.Adapters;

namespace ShareLoRA.Training.Planning;

/// <summary>
/// What to plan: how many pipeline stages, the step's micro-batching and schedule, the adapter, and the byte widths
/// that turn element counts into memory and traffic.
/// </summary>
/// <param name="Stages">Pipeline stages p (one device each).</param>
/// <param name="MicroBatches">Micro-batches m per optimizer step.</param>
/// <param name="MicroBatchSize">Sequences per micro-batch B.</param>
/// <param name="SeqLen">Tokens per sequence S.</param>
/// <param name="ScheduleKind">GPipe or 1F1B (both with a flush per step).</param>
/// <param name="SharingPolicy">Adapter targets and which matrices are shared.</param>
/// <param name="Rank">Adapter rank r.</param>
/// <param name="WeightDtypeBytes">Bytes per frozen base weight: 4 fp32, 2 bf16, 0.5 for 4-bit NF4 (quantisation constants ignored).</param>
/// <param name="DeviceMemoryBytes">Memory per device: null = unlimited, one value = the same for every device, p values = per stage.</param>
public sealed record PlanRequest(
    int Stages,
    int MicroBatches,
    int MicroBatchSize,
    int SeqLen,
    ScheduleKind ScheduleKind,
    SharingPolicy SharingPolicy,
    int Rank,
    double WeightDtypeBytes = 2,
    IReadOnlyList<long>? DeviceMemoryBytes = null)
{
    /// <summary>Bytes per activation element; null = 4 when the base weights are fp32 (CPU), otherwise 2 (bf16 compute).</summary>
    public int? ActivationDtypeBytes { get; init; }

    /// <summary>Bytes per adapter weight and gradient element on a stage (4 = fp32 adapters; 2 = bf16 with an fp32 master copy).</summary>
    public int AdapterDtypeBytes { get; init; } = 4;

    /// <summary>Bytes per element of shared-matrix gradients and values on the wire (4 fp32, 2 bf16).</summary>
    public int WireDtypeBytes { get; init; } = 4;

    /// <summary>The activation width in use (<see cref="ActivationDtypeBytes"/> or its default).</summary>
    public int EffectiveActivationDtypeBytes => ActivationDtypeBytes ?? (WeightDtypeBytes >= 4 ? 4 : 2);

    /// <summary>Memory of the device running <paramref name="stage"/>, or null when unlimited.</summary>
    public long? MemoryFor(int stage) => DeviceMemoryBytes switch
    {
        null or { Count: 0 } => null,
        { Count: 1 } one => one[0],
        var all => all[stage],
    };

    /// <summary>Throws a <see cref="PlanningException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        Positive(Stages, "stages"); Positive(MicroBatches, "micro_batches"); Positive(MicroBatchSize, "micro_batch_size");
        Positive(SeqLen, "seq_len"); Positive(Rank, "rank");
        Positive(AdapterDtypeBytes, "adapter_dtype_bytes"); Positive(WireDtypeBytes, "wire_dtype_bytes");
        if (ActivationDtypeBytes is { } a) Positive(a, "activation_dtype_bytes");
        if (!(WeightDtypeBytes > 0)) throw new PlanningException($"plan: weight_dtype_bytes must be > 0 (got {WeightDtypeBytes})");
        if (DeviceMemoryBytes is { Count: > 1 } list && list.Count != Stages)
            throw new PlanningException($"plan: device_memory_bytes must have 1 or {Stages} entries, one per stage (got {list.Count})");
        foreach (var bytes in DeviceMemoryBytes ?? [])
            if (bytes <= 0) throw new PlanningException($"plan: device_memory_bytes must be > 0 (got {bytes})");
    }

    private static void Positive(int value, string field)
    {
        if (value <= 0) throw new PlanningException($"plan: {field} must be > 0 (got {value})");
    }
}
