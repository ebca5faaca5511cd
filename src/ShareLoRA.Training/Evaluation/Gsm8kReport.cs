namespace ShareLoRA.Training.Evaluation;

/// <summary>GSM8K exact-match accuracy over <paramref name="N"/> problems.</summary>
public sealed record Gsm8kReport(int Correct, int N, int Shots)
{
    public double Accuracy => N == 0 ? 0 : (double)Correct / N;
}
