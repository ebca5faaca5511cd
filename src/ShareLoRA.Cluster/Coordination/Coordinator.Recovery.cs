using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ShareLoRA.Cluster.Nodes;

namespace ShareLoRA.Cluster.Coordination;

// Recovery from a lost stage: the probe of which workers are alive, the RecoveryPlanner's decision, the rewind to the
// last checkpoint and the new attempt on the live workers.
public sealed partial class Coordinator
{
    // A SIGKILLed worker refuses connections at once, so a live worker answers well within this; the failure detector
    // and the split-brain resolver take far longer to decide (cluster-config/base.hocon).
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

    private sealed record ProbeResult(int Probe, Address[] Probed, Address[] Alive);

    /// <summary>A recovery in progress, from the loss to the first committed step after it.</summary>
    private sealed record Recovery(long LostAt, string Reason, int? Stage, Address[] Previous, int StepsDoneAtLoss, int StagesBefore)
    {
        public double DetectMs { get; set; }
        public int? FromStep { get; set; }
    }

    // While stages restart after a loss, status messages say so: `submit --wait` prints them, and they explain why the
    // step counter went back to the checkpoint's.
    private string RecoveryPrefix() =>
        _recovery is { FromStep: { } from } r ? $"recovering (lost a stage at step {r.StepsDoneAtLoss + 1}; continuing from step {from}): " : "";

    // A stage's worker is gone (or its link broke): drop the attempt, then find out who is alive.
    private void OnLoss(string reason, int? stage)
    {
        var run = _run!;
        _log.Warning("job {0}: {1}; recovering", run.JobId, reason);
        run.Log.Warning("lost a stage at step {Step}: {Reason}; recovering from the last checkpoint", run.StepsDone + 1, reason);
        _recovery = new Recovery(Stopwatch.GetTimestamp(), reason, stage, _assignments.Select(a => a.Worker).ToArray(), run.StepsDone, _assignments.Length);
        DropAttempt();
        _status = _status with { State = JobStatus.Recovering, Message = $"{reason}; checking which workers are alive", Stages = [] };
        Become(Recovering);
        Probe();
    }

    // Asks every known worker's node guardian to identify itself: a dead process never answers, a live one at once.
    private void Probe()
    {
        int probe = ++_probe;
        var candidates = UpWorkers().ToArray();
        var asks = candidates.Select(a => Identify(Context.ActorSelection(new RootActorPath(a) / "user" / NodeGuardian.Name), a)).ToArray();
        Task.WhenAll(asks).PipeTo(Self, success: alive => new ProbeResult(probe, candidates, alive.OfType<Address>().ToArray()));
    }

    private static async Task<Address?> Identify(ActorSelection guardian, Address worker)
    {
        try
        {
            var identity = await guardian.Ask<ActorIdentity>(new Identify(worker), ProbeTimeout).ConfigureAwait(false);
            return identity.Subject is null ? null : worker;
        }
        catch (Exception)
        {
            return null; // no answer in time: treated as dead
        }
    }

    private void OnProbeResult(ProbeResult m)
    {
        var run = _run!;
        var recovery = _recovery!;
        var decision = RecoveryPlanner.Decide(run.Job.Pipeline.Stages, recovery.Previous, m.Alive, _recoveries);
        if (recovery.FromStep is null)
        {
            recovery.DetectMs = Stopwatch.GetElapsedTime(recovery.LostAt).TotalMilliseconds;
            if (decision.Action == RecoveryAction.GiveUp)
            {
                Fail($"{decision.Message}; last loss: {recovery.Reason}");
                return;
            }
            _recoveries++;
            if (!Rewind(recovery, decision)) return;
        }
        run.Log.Information("probe: {Alive} of {Probed} worker(s) alive; {Decision}", m.Alive.Length, m.Probed.Length, decision.Message);
        if (decision.Action == RecoveryAction.WaitForWorkers)
        {
            _status = _status with { Message = $"{decision.Message}; will continue from step {recovery.FromStep} when one joins" };
            return;
        }
        if (decision.Stages != run.Plan.Stages.Count) run.Replan(decision.Stages);
        StartAttempt(decision.Workers);
    }

    // Reloads the last committed checkpoint (or step 0) into the run, rewinds metrics.jsonl, records the loss there.
    private bool Rewind(Recovery recovery, RecoveryDecision decision)
    {
        var run = _run!;
        try
        {
            _restore = run.RewindToLatestCheckpoint();
        }
        catch (Exception e)
        {
            Fail($"recovery could not reload the last checkpoint: {e.Message.Split('\n')[0]}");
            return false;
        }
        recovery.FromStep = run.StepsDone;
        var lostStages = decision.Lost.Select(w => Array.IndexOf(recovery.Previous, w)).Where(i => i >= 0).ToList();
        if (lostStages.Count == 0 && recovery.Stage is { } s) lostStages.Add(s);
        run.RecordWorkerLost(decision.Lost.Count > 0 ? string.Join(",", decision.Lost) : "none (all workers answered)",
            string.Join(",", lostStages), recovery.Reason, recovery.StepsDoneAtLoss + 1);
        return true;
    }
}
