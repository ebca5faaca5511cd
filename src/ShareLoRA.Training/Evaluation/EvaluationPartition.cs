namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// Contiguous layer ranges for a forward-only pipeline: <c>layers</c> split into <c>stages</c> runs whose sizes differ by
/// at most one, the longer runs first. Evaluation has no backward pass or optimizer state to balance, so an even split
/// of the decoder layers is the plan.
/// </summary>
public static class EvaluationPartition
{
    /// <returns>(FirstLayer, EndLayer) per stage.</returns>
    public static IReadOnlyList<(int FirstLayer, int EndLayer)> Split(int layers, int stages)
    {
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), layers, "a model needs at least one layer");
        if (stages < 1 || stages > layers)
            throw new ArgumentOutOfRangeException(nameof(stages), stages, $"stages must be in [1, {layers}] (one layer at least per stage)");
        var ranges = new List<(int, int)>(stages);
        int first = 0;
        for (int s = 0; s < stages; s++)
        {
            int size = layers / stages + (s < layers % stages ? 1 : 0);
            ranges.Add((first, first + size));
            first += size;
        }
        return ranges;
    }
}
