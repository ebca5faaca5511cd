using ShareLoRA.Training.Planning;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// One optimizer step of a pipeline whose stages all live in this process, in the order the cluster runs it: every
/// micro-batch forward and backward through the schedule (<see cref="LocalScheduleExecutor"/>), then the shared tensors
/// stepped by the <see cref="SharedParameterServer"/> from the stages' partial gradients and local norms, then each
/// stage's own step with the same global clip coefficient, the new shared values, and zeroed gradients.
/// <see cref="Trainer.LocalPipelineTrainer"/> and the family pipeline tests run exactly this.
/// </summary>
public static class PipelineOptimizerStep
{
    /// <summary>What one step measured.</summary>
    /// <param name="LossSum">Sum over micro-batches of the last stage's summed losses (divide by the divisor for the step loss).</param>
    /// <param name="Targets">Loss terms the last stage counted (target tokens, or sequences for a classifier).</param>
    /// <param name="GradNorm">Global gradient norm before clipping.</param>
    /// <param name="ClipCoefficient">The coefficient every gradient was scaled by.</param>
    public sealed record Outcome(double LossSum, long Targets, double GradNorm, double ClipCoefficient);

    /// <param name="stages">The stages in order, each with zeroed gradients.</param>
    /// <param name="server">Holder of the shared masters.</param>
    /// <param name="schedule">GPipe or 1F1B over stages.Count stages and microBatches.Count micro-batches.</param>
    /// <param name="step">0-based step (selects dropout masks).</param>
    /// <param name="microBatches">The step's micro-batches.</param>
    /// <param name="lossDivisor">The step's loss denominator (its total target count); losses are divided by it before backward.</param>
    /// <param name="learningRate">This step's learning rate.</param>
    /// <param name="maxGradNorm">Global-norm clip (0 = none).</param>
    public static Outcome Run(IReadOnlyList<PipelineStage> stages, SharedParameterServer server, PipelineSchedule schedule, int step,
        IReadOnlyList<MicroBatchInput> microBatches, double lossDivisor, double learningRate, double maxGradNorm)
    {
        var (lossSum, targets) = LocalScheduleExecutor.Run(stages, schedule, step, microBatches, lossDivisor);
        var partials = stages.Select(s => s.SharedGradients()).ToList();
        try
        {
            var localNorms = stages.Select(s => s.LocalGradNormSquared()).ToList();
            using var shared = server.Step(partials, localNorms, learningRate, maxGradNorm);
            foreach (var stage in stages)
            {
                stage.StepLocal(learningRate, shared.ClipCoefficient);
                stage.SetSharedValues(shared.Values);
                stage.ZeroGrad();
            }
            return new Outcome(lossSum, targets, shared.GradNorm, shared.ClipCoefficient);
        }
        finally
        {
            foreach (var p in partials)
                foreach (var g in p.Values) g.Dispose();
        }
    }
}
