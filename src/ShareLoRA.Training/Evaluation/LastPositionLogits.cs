using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Next-token logits after each sequence (at its last position), restricted to some candidate ids, computed in
/// right-padded batches with an attention mask so a row's result does not depend on its batch mates.
/// </summary>
public static class LastPositionLogits
{
    /// <returns>One row per sequence, in input order: the logits of <paramref name="candidateIds"/> (float32).</returns>
    public static float[][] Compute(LlamaModel model, IReadOnlyList<IReadOnlyList<int>> sequences, IReadOnlyList<int> candidateIds,
        int batchSize = 1, IModelAdapters? adapters = null) =>
        Compute(new LocalEvaluationModel(model, adapters), sequences, candidateIds, batchSize);

    /// <summary>The same on any <see cref="IEvaluationModel"/>: one forward pass per batch of <paramref name="batchSize"/> sequences.</summary>
    public static float[][] Compute(IEvaluationModel model, IReadOnlyList<IReadOnlyList<int>> sequences, IReadOnlyList<int> candidateIds,
        int batchSize = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        int vocab = model.Config.VocabSize;
        foreach (var id in candidateIds)
            if (id < 0 || id >= vocab)
                throw new ArgumentException($"candidate token id {id} is outside the model's vocabulary [0, {vocab})");
        var results = new float[sequences.Count][];
        for (int start = 0; start < sequences.Count; start += batchSize)
        {
            int rows = Math.Min(batchSize, sequences.Count - start);
            for (int r = 0; r < rows; r++)
            {
                var ids = sequences[start + r];
                if (ids.Count == 0) throw new ArgumentException($"sequence {start + r} is empty");
                foreach (var id in ids)
                    if (id < 0 || id >= vocab)
                        throw new ArgumentException($"sequence {start + r}: token id {id} is outside the model's vocabulary [0, {vocab})");
            }
            var batch = Enumerable.Range(start, rows).Select(i => sequences[i]).ToArray();
            var result = model.Run(EvaluationRequest.ForCandidates(batch, candidateIds));
            for (int r = 0; r < rows; r++) results[start + r] = result.Values[r];
        }
        return results;
    }
}
