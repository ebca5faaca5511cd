using System.Diagnostics;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Training.Checkpoints;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// The coordinator's checkpoint work that needs no actor: writing a checkpoint from the state parts the stages sent
/// (with its metrics event and log line), and cutting a restored checkpoint into bounded parts for one stage.
/// </summary>
public static class CheckpointExchange
{
    /// <summary>What a save took, for the status line.</summary>
    public sealed record Saved(int Step, string Directory, long Bytes, double TotalMs, double CollectMs);

    /// <summary>
    /// Decodes the collected states and saves the checkpoint of the run's committed step (atomic rename), with its log
    /// line. Throws when the save fails. The "checkpoint" event follows once the journal has it (<see cref="RecordCommitted"/>).
    /// </summary>
    public static Saved Save(JobRun run, StageStateCollector collected, int stages, double? lastLoss, long collectStartTimestamp)
    {
        double collectMs = Stopwatch.GetElapsedTime(collectStartTimestamp).TotalMilliseconds;
        var states = collected.Decode();
        CheckpointSaveResult saved;
        try { saved = run.SaveCheckpoint(states, lastLoss); }
        finally { foreach (var s in states) s.Dispose(); }
        double totalMs = Stopwatch.GetElapsedTime(collectStartTimestamp).TotalMilliseconds;
        run.Log.Information("checkpoint step {Step}: {Bytes} bytes, {Ms:0.0} ms in all (collect from {Stages} stage(s) {CollectMs:0.0} ms, {StateBytes} B on the wire; write {WriteMs:0.0} ms)",
            collected.Step, saved.BytesWritten, totalMs, stages, collectMs, collected.Bytes, saved.WriteMs);
        return new Saved(collected.Step, saved.Directory, saved.BytesWritten, totalMs, collectMs);
    }

    /// <summary>The "checkpoint" event in metrics.jsonl (save_ms from the collect request to the commit, bytes,
    /// collect_ms), once the coordinator's journal has recorded the checkpoint.</summary>
    public static void RecordCommitted(JobRun run, Saved saved) =>
        run.WriteEvent("checkpoint", saved.Step, ("save_ms", saved.TotalMs), ("bytes", saved.Bytes), ("collect_ms", saved.CollectMs));

    /// <summary>
    /// The state a stage over layers [<paramref name="firstLayer"/>, <paramref name="endLayer"/>) starts from: its layers'
    /// values and AdamW state from the checkpoint plus the run's shared masters, in bounded parts. The stage ending at the
    /// model's last layer is the last stage: it also takes a trainable head's "head.*" tensors (RoBERTa's classifier).
    /// </summary>
    public static IReadOnlyList<StatePart> RestoreParts(RestoredTrainingState state, JobRun run, int firstLayer, int endLayer)
    {
        using var slice = state.ForStage(firstLayer, endLayer, holdsHead: endLayer == run.ModelShape.NumLayers);
        var shared = run.SharedValues();
        try { return StageStateWire.Encode(slice, shared); }
        finally { foreach (var t in shared.Values) t.Dispose(); }
    }
}
