using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Next-token logits after each sequence (at its last position), restricted to some candidate ids, computed in
/// right-padded batches with an attention mask so a row's result does not depend on its batch mates.
/// </summary>
public static class LastPositionLogits
{
    /// <returns>One row per sequence, in input order: the logits of <paramref name="candidateIds"/> (float32).</returns>
    public static float[][] Compute(LlamaModel model, IReadOnlyList<IReadOnlyList<int>> sequences, IReadOnlyList<int> candidateIds,
        int batchSize = 1, IModelAdapters? adapters = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        foreach (var id in candidateIds)
            if (id < 0 || id >= model.Config.VocabSize)
                throw new ArgumentException($"candidate token id {id} is outside the model's vocabulary [0, {model.Config.VocabSize})");
        var results = new float[sequences.Count][];
        using var noGrad = no_grad();
        using var candidates = tensor(candidateIds.Select(i => (long)i).ToArray(), device: model.Device);
        for (int start = 0; start < sequences.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            int rows = Math.Min(batchSize, sequences.Count - start);
            var examples = new TokenizedExample[rows];
            for (int r = 0; r < rows; r++)
            {
                var ids = sequences[start + r].ToArray();
                if (ids.Length == 0) throw new ArgumentException($"sequence {start + r} is empty");
                foreach (var id in ids)
                    if (id < 0 || id >= model.Config.VocabSize)
                        throw new ArgumentException($"sequence {start + r}: token id {id} is outside the model's vocabulary [0, {model.Config.VocabSize})");
                examples[r] = new TokenizedExample(ids, ids);
            }
            var batch = BatchCollator.Collate(examples, Enumerable.Range(0, rows).ToArray(), padId: 0);
            using var tensors = BatchTensors.From(batch, model.Device);
            var mask = rows > 1 ? tensors.AttentionMask : null;                              // one row has no padding
            var logits = model.Forward(tensors.InputIds, adapters: adapters, attentionMask: mask); // [b, s, vocab]
            var last = tensor(examples.Select(e => (long)e.Length - 1).ToArray(), device: model.Device);
            var index = last.view(rows, 1, 1).expand(rows, 1, logits.shape[2]);
            var atLast = logits.gather(1, index).squeeze(1);                                   // [b, vocab]
            var picked = atLast.index_select(1, candidates).to(ScalarType.Float32).cpu().contiguous(); // [b, c]
            var flat = picked.data<float>().ToArray();
            for (int r = 0; r < rows; r++)
                results[start + r] = flat.AsSpan(r * candidateIds.Count, candidateIds.Count).ToArray();
        }
        return results;
    }
}
