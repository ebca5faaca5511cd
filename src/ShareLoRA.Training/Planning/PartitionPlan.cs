using System.Text;

namespace ShareLoRA.Training.Planning;

/// <summary>
/// A partition of the model into pipeline stages with per-stage memory, the schedule's bubble, and the per-step
/// traffic of the adapter synchronisation next to what plain LoRA would need.
/// </summary>
/// <param name="Stages">Stages in order; their layer ranges cover every layer exactly once.</param>
/// <param name="Schedule">The schedule the plan was made for.</param>
/// <param name="BubbleFraction">Idle share of the simulated step with the stages' estimated FLOPs as op costs.</param>
/// <param name="SharedParameters">Elements of the shared adapter tensors (each stored once per model).</param>
/// <param name="AdapterSyncBytes">
/// Per optimizer step: 2 x p x SharedParameters x wire bytes. Each stage sends its partial gradient of every shared
/// tensor to the coordinator and receives the updated tensor back; per-layer tensors never leave their stage.
/// Independent of the number of layers; 0 for plain LoRA.
/// </param>
/// <param name="LoraSyncBytes">
/// Per optimizer step, what plain LoRA on the same targets and rank would move if its adapters were synchronised the
/// same way (each stage sending the gradients of its layers' A and B to the coordinator and receiving the new values):
/// 2 x (LoRA trainable parameters) x wire bytes, independent of p. The yardstick the metrics show beside
/// <see cref="AdapterSyncBytes"/>.
/// </param>
/// <param name="CoordinatorOptimizerBytes">Shared tensors' fp32 master copy + AdamW m and v on the coordinator (12 bytes per element), counted once.</param>
/// <param name="ActivationTrafficBytes">Per optimizer step: activations forward plus their gradients backward over every stage boundary (2 x m x sum of BoundaryBytes).</param>
public sealed record PartitionPlan(
    IReadOnlyList<StagePlan> Stages,
    PipelineSchedule Schedule,
    double BubbleFraction,
    long SharedParameters,
    long AdapterSyncBytes,
    long LoraSyncBytes,
    long CoordinatorOptimizerBytes,
    long ActivationTrafficBytes)
{
    /// <summary>True when every stage fits its device memory (or memory is unlimited).</summary>
    public bool Fits => Stages.All(s => s.Fits);

    /// <summary>Layers per stage, e.g. [8, 9, 9, 6].</summary>
    public IReadOnlyList<int> LayerCounts => Stages.Select(s => s.LayerCount).ToArray();

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append($"{Schedule.Kind} p={Schedule.Stages} m={Schedule.MicroBatches}, bubble {BubbleFraction:0.0000}, " +
                  $"adapter sync {AdapterSyncBytes} B/step (LoRA would be {LoraSyncBytes} B), activations {ActivationTrafficBytes} B/step" +
                  (Fits ? "" : ", DOES NOT FIT"));
        foreach (var s in Stages) sb.AppendLine().Append(s);
        return sb.ToString();
    }
}
