using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Reads an <see cref="EvaluationRequest"/>'s answer from logits [b, s, vocab]. The one place this math lives: the
/// single-process model and the last pipeline stage of the cluster both call it, so their numbers agree bit for bit
/// whenever the logits do. Only the values asked for leave the stage, not the vocab x sequence logits.
/// </summary>
public static class LogitsReadout
{
    public static EvaluationResult Read(Tensor logits, EvaluationRequest request) => request.Readout switch
    {
        EvaluationReadout.CandidateLogits => new EvaluationResult(CandidateLogits(logits, request.LastPositions(), request.CandidateIds)),
        EvaluationReadout.TargetLogProbs => new EvaluationResult(TargetLogProbs(logits, request.Labels!, request.Rows, request.Columns)),
        EvaluationReadout.GreedyNext => new EvaluationResult([], GreedyNext(logits)),
        _ => throw new ArgumentException($"unknown readout {request.Readout}"),
    };

    /// <summary>Per row, the float32 logits of <paramref name="candidateIds"/> at position <paramref name="lastPositions"/>[row].</summary>
    public static float[][] CandidateLogits(Tensor logits, IReadOnlyList<int> lastPositions, IReadOnlyList<int> candidateIds)
    {
        using var scope = NewDisposeScope();
        int rows = (int)logits.shape[0];
        var candidates = tensor(candidateIds.Select(i => (long)i).ToArray(), device: logits.device);
        var last = tensor(lastPositions.Select(p => (long)p).ToArray(), device: logits.device);
        var index = last.view(rows, 1, 1).expand(rows, 1, logits.shape[2]);
        var atLast = logits.gather(1, index).squeeze(1);                                          // [b, vocab]
        var picked = atLast.index_select(1, candidates).to(ScalarType.Float32).cpu().contiguous(); // [b, c]
        var flat = picked.data<float>().ToArray();
        var result = new float[rows][];
        for (int r = 0; r < rows; r++) result[r] = flat.AsSpan(r * candidateIds.Count, candidateIds.Count).ToArray();
        return result;
    }

    /// <summary>
    /// Per row, log_softmax(logits[i]) (float32) at label[i+1] for every i whose next label is not -100, in position
    /// order. <paramref name="labels"/> is [rows * columns], unshifted.
    /// </summary>
    public static float[][] TargetLogProbs(Tensor logits, int[] labels, int rows, int columns)
    {
        using var scope = NewDisposeScope();
        long s = logits.shape[1];
        var labelTensor = tensor(labels.Select(l => (long)l).ToArray(), [rows, columns], device: logits.device);
        var logProbs = logits.narrow(1, 0, s - 1).to(ScalarType.Float32).log_softmax(-1);   // [b, s-1, vocab]
        var next = labelTensor.narrow(1, 1, s - 1);                                           // [b, s-1]
        // Explicit Scalars kept alive across the native calls (see ShareLoRA.Model.Layers.KeptScalarOps).
        using Scalar ignore = Data.TokenizedExample.IgnoreIndex.ToScalar(), zero = 0.ToScalar();
        var keep = next.ne(ignore);
        var safe = next.masked_fill(keep.logical_not(), zero).unsqueeze(-1);                  // ignored -> any valid id
        var picked = logProbs.gather(2, safe).squeeze(-1).cpu().contiguous();                 // [b, s-1]
        var values = picked.data<float>().ToArray();
        var result = new float[rows][];
        for (int r = 0; r < rows; r++)
        {
            var row = new List<float>();
            for (int i = 0; i + 1 < columns; i++)
                if (labels[r * columns + i + 1] != Data.TokenizedExample.IgnoreIndex) row.Add(values[r * (columns - 1) + i]);
            result[r] = row.ToArray();
        }
        return result;
    }

    /// <summary>Argmax (first maximum) of the float32 logits after the last position of row 0.</summary>
    public static int GreedyNext(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var last = logits[0, -1].to(ScalarType.Float32).cpu().contiguous();
        return (int)last.argmax().item<long>();
    }
}
