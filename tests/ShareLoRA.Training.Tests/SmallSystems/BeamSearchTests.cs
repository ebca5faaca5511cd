using ShareLoRA.Model.Gpt2;
using ShareLoRA.Training.SmallSystems;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.SmallSystems;

/// <summary>Beam search as gpt2_beam.py: greedy at beam 1 (through GPT-2's KV cache), no-repeat n-grams, length penalty, determinism.</summary>
public class BeamSearchTests
{
    private static readonly Gpt2Config Tiny = new(VocabSize: 40, MaxPositions: 48, HiddenSize: 16, NumLayers: 2, NumHeads: 2, InnerSize: 32,
        BosTokenId: 0, EosTokenId: 0);

    /// <summary>Logits from a function of the row's last token (the query's last token at the start).</summary>
    private sealed class StubModel(int vocab, Func<int, double[]> logProbsAfter) : IBeamLanguageModel
    {
        private List<int> _last = [];

        public Tensor Start(IReadOnlyList<int> query)
        {
            _last = [query[^1]];
            return tensor(logProbsAfter(query[^1]).Select(x => (float)x).ToArray());
        }

        public Tensor Next(IReadOnlyList<int> sourceRows, IReadOnlyList<int> tokens)
        {
            _last = tokens.ToList();
            var flat = tokens.SelectMany(t => logProbsAfter(t).Select(x => (float)x)).ToArray();
            return tensor(flat).view(tokens.Count, vocab);
        }
    }

    [Fact]
    public void BeamOneEqualsGreedyDecodingWithoutCache()
    {
        using var model = Gpt2Model.CreateRandom(Tiny, 5, initStd: 0.5);
        int[] query = [3, 17, 8, 21];
        var options = new BeamSearchOptions(Beams: 1, LengthPenalty: 0.8, NoRepeatNgramSize: 0, MaxNewTokens: 12, StopTokens: [0]);
        using var beamModel = new Gpt2BeamModel(model);
        var beam = BeamSearch.Run(beamModel, query, options);

        var greedy = new List<int>();
        var seq = query.ToList();
        using (no_grad())
            for (int i = 0; i < 12; i++)
            {
                using var scope = NewDisposeScope();
                var logits = model.Forward(tensor(seq.Select(t => (long)t).ToArray()).view(1, -1));
                int next = (int)logits[0, -1].argmax().item<long>();
                if (next == 0) break;
                greedy.Add(next);
                seq.Add(next);
            }
        Assert.Equal(greedy, beam.Tokens);

        // Deterministic, and beams 4 run through the cache reordering without changing the answer between runs.
        using var again = new Gpt2BeamModel(model);
        Assert.Equal(beam, BeamSearch.Run(again, query, options) with { Tokens = beam.Tokens });
        var wide = options with { Beams = 4, NoRepeatNgramSize = 4 };
        var w1 = BeamSearch.Run(again, query, wide);
        var w2 = BeamSearch.Run(again, query, wide);
        Assert.Equal(w1.Tokens, w2.Tokens);
        Assert.Equal(w1.Score, w2.Score);
    }

    /// <summary>GPT-2 without a cache: every step re-runs each row's whole sequence (the reference for the cache's reordering).</summary>
    private sealed class RecomputingGpt2(Gpt2Model model) : IBeamLanguageModel
    {
        private List<List<int>> _rows = [];

        public Tensor Start(IReadOnlyList<int> query)
        {
            _rows = [query.ToList()];
            return Last(_rows[0]);
        }

        public Tensor Next(IReadOnlyList<int> sourceRows, IReadOnlyList<int> tokens)
        {
            _rows = sourceRows.Select((src, j) => (List<int>)[.. _rows[src], tokens[j]]).ToList();
            return stack(_rows.Select(Last).ToArray());
        }

        private Tensor Last(List<int> seq)
        {
            using var noGrad = no_grad();
            using var logits = model.Forward(tensor(seq.Select(t => (long)t).ToArray()).view(1, -1));
            return logits[0, -1].clone();
        }
    }

    [Fact]
    public void WideBeamThroughTheKvCacheEqualsRecomputingEverySequence()
    {
        using var model = Gpt2Model.CreateRandom(Tiny, 8, initStd: 0.5);
        int[] query = [5, 9, 30];
        var options = new BeamSearchOptions(Beams: 4, LengthPenalty: 0.8, NoRepeatNgramSize: 2, MaxNewTokens: 10, StopTokens: [0]);
        using var cached = new Gpt2BeamModel(model);
        var viaCache = BeamSearch.Run(cached, query, options);
        var reference = BeamSearch.Run(new RecomputingGpt2(model), query, options);
        Assert.Equal(reference.Tokens, viaCache.Tokens);
        Assert.Equal(reference.Score, viaCache.Score, 4);
    }

    [Fact]
    public void NoRepeatNgramBlocksTheRepeatedFourGram()
    {
        // Vocab 6, stop 0 never likely; after t the model prefers the cycle 1 -> 2 -> 3 -> 1 and then token 4 or 5.
        double[] After(int t)
        {
            var l = new double[6];
            l[0] = -20;
            int next = t is >= 1 and <= 3 ? t % 3 + 1 : 1;
            l[next] = 5;
            l[4] = 1;
            return l;
        }
        var stub = new StubModel(6, After);
        var free = BeamSearch.Run(stub, [5], new BeamSearchOptions(Beams: 1, NoRepeatNgramSize: 0, MaxNewTokens: 9, StopTokens: [0]));
        Assert.Equal([1, 2, 3, 1, 2, 3, 1, 2, 3], free.Tokens);
        var blocked = BeamSearch.Run(stub, [5], new BeamSearchOptions(Beams: 1, NoRepeatNgramSize: 4, MaxNewTokens: 9, StopTokens: [0]));
        // After 1 2 3 1 2 3 the 4-gram (1 2 3 1) would repeat: 1 is banned and the runner-up 4 is taken.
        Assert.Equal([1, 2, 3, 1, 2, 3, 4], blocked.Tokens.Take(7));
        var grams = Enumerable.Range(0, blocked.Tokens.Count - 3).Select(i => string.Join(',', blocked.Tokens.Skip(i).Take(4))).ToList();
        Assert.Equal(grams.Count, grams.Distinct().Count());
        Assert.Equal([1], BeamSearch.BannedNgramTokens([1, 2, 3, 1, 2, 3], 4));
        Assert.Empty(BeamSearch.BannedNgramTokens([1, 2], 4));
    }

    [Fact]
    public void LengthPenaltyDividesTheSumOfLogProbsByLengthToThePower()
    {
        // Vocab {0 = EOS, 1 = a, 2 = b}. From the query: p(EOS) = 0.4, p(a) = 0.6 - 1e-6, p(b) tiny.
        // After a: p(EOS) = e^-1.2 / 0.6, so "a EOS" has sum log p = -1.2 over 2 tokens; "EOS" has ln 0.4 = -0.916 over 1.
        double pAEos = Math.Exp(-1.2) / (0.6 - 1e-6);
        double[] After(int t) => t switch
        {
            1 => [Math.Log(pAEos), Math.Log(1e-9), Math.Log(1 - pAEos - 1e-9)],
            2 => [Math.Log(1e-9), Math.Log(1e-9), 0],
            _ => [Math.Log(0.4), Math.Log(0.6 - 1e-6), Math.Log(1e-6)],
        };
        var stub = new StubModel(3, After);
        var options = new BeamSearchOptions(Beams: 2, NoRepeatNgramSize: 0, MaxNewTokens: 2, StopTokens: [0]);
        var noPenalty = BeamSearch.Run(stub, [7], options with { LengthPenalty = 0 });
        Assert.True(noPenalty.Tokens.Count == 0, $"got [{string.Join(",", noPenalty.Tokens)}] score {noPenalty.Score} stopped {noPenalty.Stopped}");
        Assert.Equal(Math.Log(0.4), noPenalty.Score, 5);
        var penalty = BeamSearch.Run(stub, [7], options with { LengthPenalty = 1.0 });
        Assert.Equal([1], penalty.Tokens);
        Assert.Equal(-1.2 / 2, penalty.Score, 4);
    }
}
