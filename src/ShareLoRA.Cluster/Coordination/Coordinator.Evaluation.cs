using System.Diagnostics;
using Akka.Actor;
using ShareLoRA.Cluster.Stages;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Trainer;

namespace ShareLoRA.Cluster.Coordination;

// Forward-only evaluation of the eval split through the stages between a commit and the next dispatch.
public sealed partial class Coordinator
{
    /// <summary>An evaluation in flight after <paramref name="Step"/> committed steps; <paramref name="Metrics"/> is that
    /// step's line, written once the eval loss is in (null for the evaluation before the first step).</summary>
    private sealed record PendingEval(int Step, StepMetrics? Metrics, long TargetTokens, long StartTimestamp);

    // Eval batches per RunEval message: bounded like the data plane's frames, well under the Akka frame size.
    private const long EvalPartValues = 2_000_000;

    // The eval batches to every stage in bounded parts (ids to the first, labels to the last, masks to all), as one
    // forward-only run after the committed step; the stages answer EvalPartial once they have done every part.
    private void StartEval(StepMetrics? metrics)
    {
        var run = _run!;
        int step = run.StepsDone, p = _ready.Length;
        var batches = run.EvalBatches;
        _evaluating = new PendingEval(step, metrics, run.EvalTargets(), Stopwatch.GetTimestamp());
        _evalPartials = new CoordinatorProtocol.EvalPartial?[p];
        var parts = new List<(int First, int Count)>();
        for (int first = 0; first < batches.Count;)
        {
            int count = 0;
            long values = 0;
            // At least one batch per part; then as many as fit the budget (ids, labels and mask per token).
            while (first + count < batches.Count && (count == 0 || values + 3L * batches[first + count].Rows * batches[first + count].Columns <= EvalPartValues))
            {
                values += 3L * batches[first + count].Rows * batches[first + count].Columns;
                count++;
            }
            parts.Add((first, count));
            first += count;
        }
        for (int i = 0; i < p; i++)
        {
            bool firstStage = i == 0, lastStage = i == p - 1;
            for (int k = 0; k < parts.Count; k++)
            {
                var (first, count) = parts[k];
                var micro = batches.Skip(first).Take(count)
                    .Select(b => StageProtocol.MicroBatchData.For(b, firstStage, lastStage))
                    .ToArray();
                _ready[i]!.Stage.Tell(new StageProtocol.RunEval(_attemptId, step, k, parts.Count, first, micro));
            }
        }
        _status = _status with { Message = $"evaluating after step {step}/{run.Job.Steps} ({batches.Count} eval batch(es))" };
        Become(Evaluating);
    }

    private void OnEvalPartial(CoordinatorProtocol.EvalPartial m)
    {
        var pending = _evaluating;
        if (pending is null || m.Step != pending.Step) return;
        _evalPartials[m.StageIndex] = m;
        if (_evalPartials.Any(x => x is null)) return;
        var last = _evalPartials[^1]!;
        _evaluating = null;
        var run = _run!;
        if (last.TargetTokens != pending.TargetTokens)
        {
            Fail($"evaluation after step {pending.Step}: the last stage counted {last.TargetTokens} target tokens, the eval set {pending.TargetTokens}");
            return;
        }
        double evalLoss = JobRun.EvalLoss(last.LossSum, last.TargetTokens);
        EvalMetrics? evalMetrics;
        try { evalMetrics = run.EvalMetrics(last.RowPredictions); }
        catch (ArgumentException e)
        {
            Fail($"evaluation after step {pending.Step}: {e.Message}");
            return;
        }
        run.Log.Debug("evaluation after step {Step}: {Seconds:0.000} s, {Bytes} activation bytes", pending.Step,
            Stopwatch.GetElapsedTime(pending.StartTimestamp).TotalSeconds, _evalPartials.Sum(x => x!.ActivationBytesSent));
        _status = _status with { EvalLoss = evalLoss, EvalStep = pending.Step, EvalMetrics = JobStatus.MetricsOf(evalMetrics) };
        if (pending.Metrics is { } metrics)
        {
            FinishStep(metrics with { EvalLoss = evalLoss, EvalMetrics = evalMetrics });
            return;
        }
        var initial = new EvalResult(evalLoss, evalMetrics);
        run.RecordInitialEval(initial);
        _status = _status with { Message = $"step {run.StepsDone}/{run.Job.Steps}; {initial.Describe()}" };
        Become(Running);
        ContinueAfterStep();
    }
}
