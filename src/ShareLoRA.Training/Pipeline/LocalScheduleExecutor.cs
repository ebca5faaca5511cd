using ShareLoRA.Training.Planning;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// Runs one optimizer step's forward and backward passes over a chain of <see cref="PipelineStage"/>s in one thread,
/// following a <see cref="PipelineSchedule"/>: each stage executes its own op list in order, and an op runs as soon as
/// its input is there (F(mb) needs the previous stage's activation, B(mb) the next stage's gradient). Sweeping the
/// stages in turn until every op has run gives a valid sequential order of the schedule; the numbers do not depend on
/// it, because each stage's ops keep their order. Activations and gradients in transit are disposed once consumed.
/// </summary>
public static class LocalScheduleExecutor
{
    /// <summary>
    /// Forward and backward of every micro-batch of step <paramref name="step"/>. Returns the sum over micro-batches of
    /// the last stage's summed token losses and the step's target-token count as the last stage counted them.
    /// <paramref name="lossDivisor"/> is the step's total target tokens (the loss is their mean).
    /// </summary>
    public static (double LossSum, long TargetTokens) Run(IReadOnlyList<PipelineStage> stages, PipelineSchedule schedule, int step,
        IReadOnlyList<MicroBatchInput> microBatches, double lossDivisor)
    {
        int p = stages.Count;
        if (schedule.Stages != p) throw new ArgumentException($"schedule is for {schedule.Stages} stages, the pipeline has {p}");
        if (schedule.MicroBatches != microBatches.Count)
            throw new ArgumentException($"schedule is for {schedule.MicroBatches} micro-batches, the step has {microBatches.Count}");

        var activations = new Dictionary<(int Stage, int MicroBatch), Tensor>(); // input waiting for stage
        var gradients = new Dictionary<(int Stage, int MicroBatch), Tensor>();   // output gradient waiting for stage
        var losses = new double[microBatches.Count];
        long targets = 0;
        var next = new int[p];
        int remaining = Enumerable.Range(0, p).Sum(s => schedule.For(s).Count);
        try
        {
            while (remaining > 0)
            {
                bool progressed = false;
                for (int s = 0; s < p; s++)
                {
                    var ops = schedule.For(s);
                    while (next[s] < ops.Count && TryRun(s, ops[next[s]]))
                    {
                        next[s]++;
                        remaining--;
                        progressed = true;
                    }
                }
                if (!progressed)
                    throw new InvalidOperationException("pipeline schedule deadlocked: " +
                        string.Join(", ", Enumerable.Range(0, p).Where(s => next[s] < schedule.For(s).Count).Select(s => $"stage {s} waits at {schedule.For(s)[next[s]]}")));
            }
        }
        finally
        {
            foreach (var t in activations.Values) t.Dispose();
            foreach (var t in gradients.Values) t.Dispose();
        }
        // Summed in micro-batch order, whatever order the last stage ran them in.
        return (losses.Sum(), targets);

        bool TryRun(int s, PipelineOp op)
        {
            var mb = op.MicroBatch;
            var input = microBatches[mb];
            if (op.Kind == PipelineOpKind.Forward)
            {
                Tensor? activation = null;
                if (s > 0 && !activations.Remove((s, mb), out activation)) return false;
                using (activation)
                {
                    var result = stages[s].Forward(step, mb, activation ?? input.InputIds, input.AttentionMask,
                        s == p - 1 ? input.Labels : null, lossDivisor);
                    if (result.Activation is { } sent) activations[(s + 1, mb)] = sent;
                    else
                    {
                        losses[mb] = result.LossSum!.Value;
                        targets += result.TargetTokens;
                    }
                }
                return true;
            }
            Tensor? gradient = null;
            if (s < p - 1 && !gradients.Remove((s, mb), out gradient)) return false;
            using (gradient)
            {
                var back = stages[s].Backward(mb, gradient);
                if (back is not null) gradients[(s - 1, mb)] = back;
            }
            return true;
        }
    }
}
