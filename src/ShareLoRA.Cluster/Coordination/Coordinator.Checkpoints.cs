using System.Diagnostics;
using Akka.Actor;
using ShareLoRA.Cluster.Stages;

namespace ShareLoRA.Cluster.Coordination;

// Checkpoints: collecting the stages' state into one, and sending a checkpoint's state to the stages of a new attempt.
public sealed partial class Coordinator
{
    // The stage's layers of the checkpoint plus the shared masters, in bounded parts; they precede ConnectNeighbours.
    private bool SendRestoredState(CoordinatorProtocol.StageReady m)
    {
        var a = _assignments[m.StageIndex];
        try
        {
            var parts = CheckpointExchange.RestoreParts(_restore!, _run!, a.FirstLayer, a.EndLayer);
            for (int i = 0; i < parts.Count; i++)
                m.Stage.Tell(new StageProtocol.RestoreState(_attemptId, i, parts.Count, parts[i]));
            return true;
        }
        catch (Exception e)
        {
            Fail($"restoring stage {m.StageIndex} from {_restore?.Name}: {e.Message}");
            return false;
        }
    }

    // After the commit (sent first on the same channel to each stage), so every stage exports the committed state.
    private void StartCheckpoint()
    {
        var run = _run!;
        _collecting = new StageStateCollector(_ready.Length, run.StepsDone);
        _collectStart = Stopwatch.GetTimestamp();
        _status = _status with { Message = $"saving checkpoint step {run.StepsDone}" };
        foreach (var r in _ready) r!.Stage.Tell(new StageProtocol.CollectState(_attemptId, run.StepsDone));
        Become(Checkpointing);
    }

    private void OnStageStatePart(CoordinatorProtocol.StageStatePart m)
    {
        var collecting = _collecting!;
        if (!collecting.Add(m.StageIndex, m.Step, m.Parts, m.State)) return;
        var run = _run!;
        CheckpointExchange.Saved saved;
        try
        {
            saved = CheckpointExchange.Save(run, collecting, _ready.Length, _status.Loss, _collectStart);
        }
        catch (Exception e)
        {
            Fail($"checkpoint step {collecting.Step} could not be saved: {e.Message.Split('\n')[0]}");
            return;
        }
        _collecting = null;
        RecordCheckpoint(run, saved);
    }
}
