using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ShareLoRA.Cluster.Stages;
using ShareLoRA.Cluster.Wire;
using ShareLoRA.Training.Metrics;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Coordination;

// The step loop: dispatching a step's micro-batches, gathering the stages' partials, the shared step and its commit,
// and at the end collecting the adapter from the stages.
public sealed partial class Coordinator
{
    private sealed record PendingStep(int Step, double LearningRate, long TargetTokens, long Tokens, long StartTimestamp);

    // Next step (after the evaluation before the first one, when due), or the end: the adapter from the stages.
    private void ContinueAfterStep()
    {
        var run = _run!;
        if (run.InitialEvalDue)
        {
            StartEval(null);
            return;
        }
        if (run.StepsDone < run.Job.Steps)
        {
            DispatchStep();
            return;
        }
        _status = _status with { Message = "collecting the adapter from the stages" };
        foreach (var r in _ready) r!.Stage.Tell(new StageProtocol.CollectAdapter(_attemptId));
    }

    private void DispatchStep()
    {
        var run = _run!;
        var (batches, lr, targets, tokens) = run.NextStep();
        int step = run.StepsDone, p = _ready.Length;
        Array.Clear(_partials);
        _pending = new PendingStep(step, lr, targets, tokens, Stopwatch.GetTimestamp());
        for (int i = 0; i < p; i++)
        {
            bool first = i == 0, last = i == p - 1;
            var micro = batches
                .Select(b => StageProtocol.MicroBatchData.For(b, first, last))
                .ToArray();
            _ready[i]!.Stage.Tell(new StageProtocol.RunStep(_attemptId, step, Math.Max(1, targets), micro));
        }
    }

    private void OnStepPartial(CoordinatorProtocol.StepPartial m)
    {
        var pending = _pending;
        if (pending is null || m.Step != pending.Step) return;
        _partials[m.StageIndex] = m;
        if (_partials.Any(x => x is null)) return;
        var run = _run!;
        double seconds = Stopwatch.GetElapsedTime(pending.StartTimestamp).TotalSeconds;
        var partials = _partials.Select(x => x!).ToArray();
        var last = partials[^1];
        if (last.TargetTokens != pending.TargetTokens)
        {
            Fail($"step {pending.Step + 1}: the last stage counted {last.TargetTokens} target tokens, the data {pending.TargetTokens}");
            return;
        }

        Dictionary<string, TensorPayload> values;
        double clip;
        StepMetrics metrics;
        using (var scope = NewDisposeScope())
        {
            var grads = partials.Select(x => (IReadOnlyDictionary<string, Tensor>)x.SharedGradients.ToDictionary(g => g.Key, g => g.Value.ToTensor())).ToList();
            using var shared = run.StepShared(grads, partials.Select(x => x.LocalGradNormSquared).ToList(), pending.LearningRate);
            values = shared.Values.ToDictionary(v => v.Key, v => TensorPayload.FromTensor(v.Value));
            clip = shared.ClipCoefficient;
            long upBytes = partials.Sum(x => x.SharedGradients.Values.Sum(g => g.Bytes.LongLength));
            long downBytes = partials.Length * values.Values.Sum(v => v.Bytes.LongLength);
            // Idle share across stages: 1 - (sum of stage compute time) / (p x step wall time).
            double busy = partials.Sum(x => x.BusySeconds);
            double bubble = seconds > 0 ? Math.Clamp(1 - busy / (partials.Length * seconds), 0, 1) : 0;
            metrics = run.CompleteStep(last.LossSum, pending.LearningRate, shared, pending.Tokens, pending.TargetTokens, seconds, bubble,
                partials.Sum(x => x.ActivationBytesSent), upBytes + downBytes);
        }
        foreach (var r in _ready) r!.Stage.Tell(new StageProtocol.StepCommit(_attemptId, pending.Step, values, clip, pending.LearningRate));
        _pending = null;
        // The evaluation follows the commit on the same channels, so the stages evaluate the updated weights.
        if (double.IsFinite(metrics.Loss) && run.EvalDue(metrics.Step)) StartEval(metrics);
        else FinishStep(metrics);
    }

    // The step's line (with its eval loss when it evaluated), status, then a checkpoint or the next step.
    private void FinishStep(StepMetrics metrics)
    {
        var run = _run!;
        run.WriteStep(metrics);
        _status = _status with
        {
            Step = metrics.Step,
            Loss = metrics.Loss,
            TokensPerSecond = metrics.TokensPerSecond,
            Message = $"step {metrics.Step}/{run.Job.Steps}",
        };
        if (!double.IsFinite(metrics.Loss))
        {
            Fail($"step {metrics.Step}: the loss is {metrics.Loss}; lower optim.lr or check the data");
            return;
        }
        if (_recovery is { FromStep: { } from } recovery)
        {
            run.RecordRecovered(from, recovery.StagesBefore, _ready.Length, recovery.DetectMs, Stopwatch.GetElapsedTime(recovery.LostAt).TotalSeconds);
            _recovery = null;
        }
        if (run.CheckpointDue(run.StepsDone)) StartCheckpoint();
        else
        {
            Become(Running);
            ContinueAfterStep();
        }
    }

    private void OnStageAdapter(CoordinatorProtocol.StageAdapter m)
    {
        _adapters[m.StageIndex] = m.Values;
        if (_adapters.Any(a => a is null)) return;
        var run = _run!;
        string directory;
        try
        {
            using var scope = NewDisposeScope();
            var values = _adapters.SelectMany(a => a).ToDictionary(v => v.Key, v => v.Value.ToTensor());
            directory = run.SaveAdapter(values);
        }
        catch (Exception e)
        {
            Fail($"writing the adapter failed: {e.Message}");
            return;
        }
        run.Log.Information("done: {Steps} steps, final loss {Loss:0.0000}; adapter in {Adapter}", run.StepsDone, _status.Loss, directory);
        _log.Info("job {0} completed: {1} steps", run.JobId, run.StepsDone);
        _status = _status with { State = JobStatus.Completed, Message = $"completed {run.StepsDone} steps; adapter in {directory}" };
        EndJob(Idle);
    }
}
