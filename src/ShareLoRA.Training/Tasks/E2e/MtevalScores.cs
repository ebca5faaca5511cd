namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// Corpus BLEU-4 and NIST-5 as mteval-v13a.pl reports them, with the statistics behind them for inspection:
/// clipped n-gram matches and hypothesis n-gram counts (index 1..9), the BLEU effective reference length and the
/// NIST information sums.
/// </summary>
public sealed record MtevalScores(
    double Bleu,
    double Nist,
    int EffectiveReferenceLength,
    IReadOnlyList<int> Matches,
    IReadOnlyList<int> HypothesisNgrams,
    IReadOnlyList<double> MatchedInformation);
