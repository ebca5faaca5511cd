namespace ShareLoRA.Training.Tasks.E2e;

/// <summary>
/// The E2E NLG challenge metrics as the official e2e-metrics scorer defines them: BLEU and NIST from mteval-v13a
/// (<see cref="MtevalScorer"/>, on the raw text), ROUGE-L and CIDEr from coco-caption (<see cref="RougeL"/>,
/// <see cref="Cider"/>, on <see cref="CocoCaptionTokenizer"/> tokens). BLEU is on the 0..1 scale the scorer prints.
/// </summary>
public static class E2eMetrics
{
    public static E2eScores Compute(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"{hypotheses.Count} hypotheses but {references.Count} reference groups: the files must align one instance per line/group");
        if (hypotheses.Count == 0) throw new ArgumentException("no segments to score");
        for (int i = 0; i < references.Count; i++)
            if (references[i].Count == 0) throw new ArgumentException($"instance {i + 1} has no reference");

        var mteval = MtevalScorer.Score(hypotheses, references);
        var hyp = hypotheses.Select(CocoCaptionTokenizer.TokenizeToString).ToList();
        var refs = references.Select(g => (IReadOnlyList<string>)g.Select(CocoCaptionTokenizer.TokenizeToString).ToList()).ToList();
        var rouge = RougeL.Corpus(hyp, refs).Score;
        var cider = Cider.Corpus(hyp, refs).Score;
        return new E2eScores(hypotheses.Count, mteval.Bleu, mteval.Nist, null, rouge, cider);
    }
}
