namespace ShareLoRA.Training.Evaluation;

/// <summary>Correct answers out of N for one subject.</summary>
public sealed record SubjectScore(int Correct, int N)
{
    public double Accuracy => N == 0 ? 0 : (double)Correct / N;
}
