namespace ShareLoRA.Model.Generation;

/// <summary>
/// Per-token log-likelihood of a sequence: LogProbs[i] = log p(TokenIds[i+1] | TokenIds[..i]) (natural log);
/// Nll is their negated mean, Perplexity = exp(Nll).
/// </summary>
public sealed record ScoreResult(IReadOnlyList<int> TokenIds, IReadOnlyList<double> LogProbs, double Nll, double Perplexity);
