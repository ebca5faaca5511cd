using ShareLoRA.Training.Tasks.Glue;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>A dev evaluation during a GLUE run: after <see cref="Step"/> optimizer steps.</summary>
public sealed record GlueEvaluation(int Step, int Epoch, GlueScore Score);

/// <summary>What a GLUE run did: the loss of every step, every dev evaluation (the first at step 0 when asked).</summary>
public sealed record GlueTrainingResult(IReadOnlyList<double> Losses, IReadOnlyList<GlueEvaluation> Evaluations, int Steps)
{
    public GlueEvaluation? Final => Evaluations.Count > 0 ? Evaluations[^1] : null;
}
