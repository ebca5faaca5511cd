using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Model.Generation;

/// <summary>Scores a token sequence under the model in one forward pass.</summary>
public static class Scorer
{
    public static ScoreResult Score(LlamaModel model, IReadOnlyList<int> ids, IModelAdapters? adapters = null)
    {
        if (ids.Count < 2) throw new ArgumentException($"scoring needs at least 2 tokens (got {ids.Count})");
        foreach (var id in ids)
            if (id < 0 || id >= model.Config.VocabSize)
                throw new ArgumentException($"token id {id} is outside the vocabulary [0, {model.Config.VocabSize})");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int n = ids.Count;
        var input = tensor(ids.Select(i => (long)i).ToArray(), device: model.Device).view(1, n);    // [1, n]
        var logits = model.Forward(input, adapters: adapters);                                       // [1, n, vocab]
        var logProbs = logits[0].narrow(0, 0, n - 1).to(ScalarType.Float32).log_softmax(-1);        // [n-1, vocab]
        var targets = input[0].narrow(0, 1, n - 1).unsqueeze(1);                                    // [n-1, 1]
        var picked = logProbs.gather(1, targets).squeeze(1).cpu().contiguous();                     // [n-1]
        var values = picked.data<float>().ToArray().Select(v => (double)v).ToArray();
        double nll = -values.Average();
        return new ScoreResult(ids.ToArray(), values, nll, Math.Exp(nll));
    }
}
