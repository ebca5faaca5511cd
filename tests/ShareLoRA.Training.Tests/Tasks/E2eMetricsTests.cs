using ShareLoRA.Training.Tasks.E2e;
using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Training.Tests.Tasks;

public sealed class E2eMetricsTests
{
    private static IReadOnlyList<IReadOnlyList<string>> Refs(params string[][] groups) => groups;

    [Fact]
    public void MtevalTokenisationSplitsAsciiPunctuationButNotDecimalsOrWordHyphens()
    {
        Assert.Equal(["it's", "£20", "-", "25", "."], MtevalTokenizer.Tokenize("It's £20-25."));
        Assert.Equal(["family-friendly", ",", "3.5", "stars", "(", "ok", ")", "&", "\""], MtevalTokenizer.Tokenize("Family-friendly, 3.5 stars (ok) &amp; &quot;"));
        Assert.Equal(["café"], MtevalTokenizer.Tokenize("Café")); // only ASCII A-Z is lowercased: É would stay
    }

    [Fact]
    public void BleuBrevityPenaltyUsesTheClosestReference()
    {
        // Hyp c = 4 words, every n-gram matches ref 1, so p1..p4 = 1. Ref lengths 6 and 8: closest is 6 -> BP = exp(1 − 6/4).
        var s = MtevalScorer.Score(["a b c d"], Refs(["a b c d e f", "a b c d e f g h"]));
        Assert.Equal(6, s.EffectiveReferenceLength);
        Assert.Equal(Math.Exp(-0.5), s.Bleu, 12);
        // Lengths 6 and 2 are equally close to 4: mteval takes the shorter (2 < 4), so BP = 1 and BLEU = 1.
        var tie = MtevalScorer.Score(["a b c d"], Refs(["a b c d e f", "a b"]));
        Assert.Equal(2, tie.EffectiveReferenceLength);
        Assert.Equal(1.0, tie.Bleu, 12);
    }

    [Fact]
    public void BleuClipsCountsByTheLargestCountInAnyOneReference()
    {
        // "the" ×4 in the hyp; refs hold it twice and once: clipped to max(2, 1) = 2, not 3, so p1 = 2/4.
        var s = MtevalScorer.Score(["the the the the"], Refs(["the cat the", "the dog"]));
        Assert.Equal(2, s.Matches[1]);
        Assert.Equal(4, s.HypothesisNgrams[1]);
        Assert.Equal(0, s.Matches[2]);
        // No 2/3/4-gram matches: mteval's smoothing uses 1/(2·3), 1/(4·2), 1/(8·1). Closest ref length 3 < 4: BP = 1.
        Assert.Equal(Math.Pow(0.5 * (1.0 / 6) * (1.0 / 8) * (1.0 / 8), 0.25), s.Bleu, 12);
    }

    [Fact]
    public void PerfectMatchScoresOne()
    {
        var s = MtevalScorer.Score(["The Vaults is a pub near Café Adriatic.", "Cocum is cheap."],
            Refs(["The Vaults is a pub near Café Adriatic.", "A pub."], ["Cocum is cheap."]));
        Assert.Equal(1.0, s.Bleu, 12);
    }

    [Fact]
    public void NistOnATinyCaseByHand()
    {
        // Ref "a b a": counts a 2, b 1 (3 words), "a b" 1, "b a" 1.
        // info(a) = log2(3/2), info(b) = log2(3/1), info(a b) = log2(count(a)/count(a b)) = log2(2) = 1.
        // Hyp "a b": unigrams (log2 1.5 + log2 3)/2 = log2(4.5)/2; bigram 1/1; n = 3..5 contribute 0.
        // Length ratio 2/3 = 1/1.5 -> penalty exp(−β ln²(2/3)) with β = −ln 0.5/ln² 1.5 is exactly 0.5.
        var s = MtevalScorer.Score(["a b"], Refs(["a b a"]));
        Assert.Equal(0.5 * (Math.Log2(4.5) / 2 + 1), s.Nist, 12);
        Assert.Equal(0.5, MtevalScorer.NistLengthPenalty(2.0 / 3), 12);
    }

    [Fact]
    public void RougeLTakesMaxPrecisionAndMaxRecallSeparately()
    {
        Assert.Equal(4, RougeL.Lcs("a b c b d a b".Split(' '), "b d c a b a".Split(' ')));
        // LCS("police killed the gunman", "police kill the gunman") = 3: P = R = 3/4, F = 3/4.
        Assert.Equal(0.75, RougeL.Segment("police killed the gunman", ["police kill the gunman"]), 12);
        // Ref 1 "a b": LCS 2, P = 2/4, R = 2/2. Ref 2 (8 words): LCS 3, P = 3/4, R = 3/8.
        // Pmax = 3/4 (ref 2), Rmax = 1 (ref 1): F = (1 + 1.44)·0.75·1 / (1 + 1.44·0.75) = 1.83/2.08.
        Assert.Equal(1.83 / 2.08, RougeL.Segment("a b c d", ["a b", "a b c x y z w v"]), 12);
        Assert.Equal(0.0, RougeL.Segment("x y", ["a b"]));
        Assert.Equal((0.75 + 0.0) / 2, RougeL.Corpus(["police killed the gunman", "x"], [["police kill the gunman"], ["y"]]).Score, 12);
    }

    [Fact]
    public void CiderOnATwoSegmentToyCorpusByHand()
    {
        // N = 2 segments; every reference n-gram has df 1, and unseen ones use max(1, 0) = 1, so each weight is
        // tf·(ln 2 − ln 1) = ln 2.
        // Segment 1: hyp "a b" = ref "a b". n=1: vectors (ln2, ln2) on both sides: Σ min·ref = 2 ln²2, norms √2 ln2 each
        //   -> cos 1. n=2: "a b" alone -> 1. n=3,4: empty -> 0. Bigram counts equal -> δ = 0.
        //   score = 10 · (1 + 1 + 0 + 0)/4 / 1 ref = 5.
        // Segment 2: hyp "c", ref "c d". n=1: ln²2 / (ln2 · √2 ln2) = 1/√2; n=2..4: hyp empty -> 0.
        //   Bigram counts 0 vs 1 -> δ = −1, Gaussian factor exp(−1/(2·6²)) = exp(−1/72).
        //   score = 10 · (exp(−1/72)/√2)/4 = 2.5·exp(−1/72)/√2 ≈ 1.74338.
        // Corpus = mean ≈ 3.37169.
        var (score, segments) = Cider.Corpus(["a b", "c"], [["a b"], ["c d"]]);
        Assert.Equal(5.0, segments[0], 12);
        Assert.Equal(2.5 * Math.Exp(-1.0 / 72) / Math.Sqrt(2), segments[1], 12);
        Assert.Equal((5.0 + 2.5 * Math.Exp(-1.0 / 72) / Math.Sqrt(2)) / 2, score, 12);
    }

    [Fact]
    public void CocoTokenisationSplitsCliticsAndDropsPunctuation()
    {
        Assert.Equal(["is", "n't", "it", "family-friendly", "yes", "£", "20-25"],
            CocoCaptionTokenizer.Tokenize("Isn't it family-friendly? Yes, £20-25."));
        Assert.Equal(["ca", "n't", "go", "there", "'s", "3.5", "can", "not", "stars"],
            CocoCaptionTokenizer.Tokenize("Can't go \"there's\" (3.5) ... cannot -- stars!"));
    }

    [Fact]
    public void E2eMetricsReportsEveryMetricButMeteor()
    {
        var scores = E2eMetrics.Compute(["The Vaults is a pub.", "Cocum is cheap."],
            Refs(["The Vaults is a pub."], ["Cocum is cheap."]));
        Assert.Equal(1.0, scores.Bleu, 12);
        Assert.Equal(1.0, scores.RougeL, 12);
        Assert.Null(scores.Meteor);
        Assert.True(scores.Nist > 0 && scores.Cider > 0);
        Assert.Throws<ArgumentException>(() => E2eMetrics.Compute(["a"], Refs(["a"], ["b"])));
    }

    [SkippableFact]
    public void RealTestSetFirstReferencesAgainstAllReferences()
    {
        // Scoring each MR's first reference against all its references (itself included) on the real test set:
        // the own reference is always matched, so BLEU and ROUGE-L are near 1 but not all the brevity/length terms are.
        var instances = E2eReader.ReadCsv(SharedAssets.RequireDirectory("data/e2e/testset_w_refs.csv"));
        var hyp = instances.Select(x => x.References[0]).ToList();
        var scores = E2eMetrics.Compute(hyp, instances.Select(x => x.References).ToList());
        Assert.Equal(630, scores.Segments);
        Assert.Equal(1.0, scores.Bleu, 12); // every n-gram of the hyp is in one reference and its own length is closest
        Assert.Equal(1.0, scores.RougeL, 12);
        Assert.InRange(scores.Cider, 0.5, 10);
        Assert.InRange(scores.Nist, 5, 20);
    }
}
