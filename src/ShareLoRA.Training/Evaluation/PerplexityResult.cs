namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Token-weighted negative log-likelihood (natural log, mean over every target token of every sequence) and its
/// exponential, the perplexity; with the number of target tokens and sequences, and how many sequences were cut.
/// </summary>
public sealed record PerplexityResult(double Nll, double Perplexity, long Tokens, int Sequences, int Truncated);
