namespace ShareLoRA.Training.Planning;

/// <summary>
/// Cuts a model into p contiguous layer ranges (stage 0 also holds the embeddings, the last stage the final norm,
/// lm_head and loss) so that the slowest stage is as fast as possible, and among those cuts the fullest device is as
/// empty as possible; every stage must fit its device memory when that is given.
/// </summary>
public static class PartitionPlanner
{
    // Relative slack when comparing FLOP totals, so cuts of equal cost are treated as ties despite rounding.
    private const double Tolerance = 1e-9;

    /// <summary>The best plan for <paramref name="request"/>; throws a one-line <see cref="PlanningException"/> when none exists.</summary>
    public static PartitionPlan Plan(ModelShape shape, PlanRequest request)
    {
        var costs = new StageCosts(shape, request);
        int p = request.Stages, layers = shape.NumLayers;

        // Pass 1: the smallest achievable cost of the slowest stage, among cuts where every stage fits.
        var computeBest = MinMax(costs, (k, a, b) => costs.Stage(k, a, b) is var s && s.Fits ? s.ForwardFlops + s.BackwardFlops : null);
        if (computeBest is null)
        {
            // No fitting cut: report the stage that is over budget in the cut that uses memory best.
            var memoryBest = MinMax(costs, (k, a, b) => costs.MemoryRatio(costs.Stage(k, a, b)));
            var stages = Build(costs, memoryBest!.Value.Cut);
            var worst = stages.MaxBy(s => costs.MemoryRatio(s))!;
            throw new PlanningException(
                $"{worst.Describe()} needs {StagePlan.Gib(worst.TotalBytes)} but its device has {StagePlan.Gib(worst.DeviceMemoryBytes!.Value)} " +
                $"(best split of {layers} layers over {p} stages: [{string.Join(", ", stages.Select(s => s.LayerCount))}]); " +
                "use more stages, smaller micro-batches or shorter sequences");
        }

        // Pass 2: among cuts within tolerance of that cost, the one whose fullest device is least full.
        double limit = computeBest.Value.Value * (1 + Tolerance);
        var balanced = MinMax(costs, (k, a, b) =>
        {
            var s = costs.Stage(k, a, b);
            return s.Fits && s.ForwardFlops + s.BackwardFlops <= limit ? costs.MemoryRatio(s) : null;
        });
        return Finish(costs, Build(costs, (balanced ?? computeBest).Value.Cut));
    }

    /// <summary>
    /// The plan for a given split (layers per stage, in order), without throwing when a stage is over memory
    /// (<see cref="PartitionPlan.Fits"/> says so): for re-checking an existing partition after membership changes.
    /// </summary>
    public static PartitionPlan Evaluate(ModelShape shape, PlanRequest request, IReadOnlyList<int> layersPerStage)
    {
        var costs = new StageCosts(shape, request);
        if (layersPerStage.Count != request.Stages)
            throw new PlanningException($"plan: split has {layersPerStage.Count} stages but the request has {request.Stages}");
        if (layersPerStage.Any(n => n < 1) || layersPerStage.Sum() != shape.NumLayers)
            throw new PlanningException(
                $"plan: split [{string.Join(", ", layersPerStage)}] must give every stage >= 1 layer and sum to {shape.NumLayers}");
        var cut = new int[request.Stages + 1];
        for (int k = 0; k < request.Stages; k++) cut[k + 1] = cut[k] + layersPerStage[k];
        return Finish(costs, Build(costs, cut));
    }

    private static PartitionPlan Finish(StageCosts costs, IReadOnlyList<StagePlan> stages)
    {
        var request = costs.Request;
        var schedule = PipelineSchedule.Create(request.ScheduleKind, request.Stages, request.MicroBatches);
        var simulation = PipelineSimulator.Simulate(schedule,
            stages.Select(s => s.ForwardFlops).ToArray(), stages.Select(s => s.BackwardFlops).ToArray());
        long wire = request.WireDtypeBytes;
        return new PartitionPlan(
            Stages: stages,
            Schedule: schedule,
            BubbleFraction: simulation.BubbleFraction,
            SharedParameters: costs.Count.SharedParameters,
            AdapterSyncBytes: 2L * request.Stages * costs.Count.SharedParameters * wire,
            LoraSyncBytes: 2L * costs.Count.LoraTrainable * wire,
            CoordinatorOptimizerBytes: costs.Count.SharedParameters * 12L,
            ActivationTrafficBytes: 2L * request.MicroBatches * stages.Sum(s => s.BoundaryBytes));
    }

    private static StagePlan[] Build(StageCosts costs, int[] cut) =>
        Enumerable.Range(0, costs.Request.Stages).Select(k => costs.Stage(k, cut[k], cut[k + 1])).ToArray();

    /// <summary>
    /// Dynamic programme over contiguous cuts: minimises the largest per-stage value, where value(k, a, b) is stage
    /// k's value on layers [a, b) or null when that stage is not allowed. Returns the optimum and the cut points
    /// (p + 1 of them, 0 and L included), or null when no allowed cut exists.
    /// </summary>
    private static (double Value, int[] Cut)? MinMax(StageCosts costs, Func<int, int, int, double?> value)
    {
        int p = costs.Request.Stages, n = costs.Shape.NumLayers;
        // best[k, j]: smallest max over stages 0..k-1 covering layers [0, j); from[k, j]: where stage k-1 starts.
        var best = new double[p + 1, n + 1];
        var from = new int[p + 1, n + 1];
        for (int k = 0; k <= p; k++)
            for (int j = 0; j <= n; j++) best[k, j] = double.PositiveInfinity;
        best[0, 0] = 0;
        for (int k = 1; k <= p; k++)
        {
            // Stage k-1 needs >= 1 layer and must leave >= 1 layer for each later stage; the last stage ends at n.
            int jMin = k == p ? n : k, jMax = k == p ? n : n - (p - k);
            for (int j = jMin; j <= jMax; j++)
                for (int a = k - 1; a < j; a++)
                {
                    if (double.IsPositiveInfinity(best[k - 1, a])) continue;
                    if (value(k - 1, a, j) is not { } v) continue;
                    double candidate = Math.Max(best[k - 1, a], v);
                    if (candidate < best[k, j] * (1 - Tolerance) || double.IsPositiveInfinity(best[k, j]))
                    {
                        best[k, j] = candidate;
                        from[k, j] = a;
                    }
                }
        }
        if (double.IsPositiveInfinity(best[p, n])) return null;
        var cut = new int[p + 1];
        cut[p] = n;
        for (int k = p; k > 0; k--) cut[k - 1] = from[k, cut[k]];
        return (best[p, n], cut);
    }

    /// <summary>Per-stage FLOPs and bytes for one request; stage k on layers [a, b).</summary>
    private sealed class StageCosts
    {
        public StageCosts(ModelShape shape, PlanRequest request)
        {
            request.Validate();
            shape.Validate();
            if (request.Stages > shape.NumLayers)
                throw new PlanningException(
                    $"plan: cannot split {shape.NumLayers} layers into {request.Stages} stages (each stage needs at least one layer)");
            Shape = shape;
            Request = request;
            Count = ParameterCounter.Count(shape, request.SharingPolicy, request.Rank);
            Tokens = (double)request.MicroBatchSize * request.SeqLen;
            int act = request.EffectiveActivationDtypeBytes;
            LayerForward = Tokens * StageCostModel.LayerForwardFlopsPerToken(shape, request.SharingPolicy, request.Rank, request.SeqLen);
            LayerBackward = Tokens * StageCostModel.LayerBackwardFlopsPerToken(shape, request.SharingPolicy, request.Rank, request.SeqLen);
            LayerActivationBytes = Tokens * act * StageCostModel.LayerActivationElementsPerToken(shape, request.SharingPolicy, request.Rank, request.SeqLen);
            HeadActivationBytes = Tokens * StageCostModel.HeadActivationBytesPerToken(shape, act);
            BoundaryBytes = (long)(Tokens * shape.HiddenSize * act);
        }

        public ModelShape Shape { get; }
        public PlanRequest Request { get; }
        public ParameterCount Count { get; }
        private double Tokens { get; }
        private double LayerForward { get; }
        private double LayerBackward { get; }
        private double LayerActivationBytes { get; }
        private double HeadActivationBytes { get; }
        private long BoundaryBytes { get; }

        public StagePlan Stage(int k, int first, int end)
        {
            int p = Request.Stages, layers = end - first;
            bool hasEmbedding = k == 0, hasHead = k == p - 1;

            // With tied embeddings a single stage uses the embedding table as lm_head; a separate last stage holds a copy.
            double baseParams = (double)layers * Shape.LayerParameters
                + (hasEmbedding ? Shape.EmbeddingParameters : 0)
                + (hasHead ? (Shape.TiedEmbeddings && hasEmbedding ? Shape.HiddenSize : Shape.HeadParameters) : 0);

            // Every stage has >= 1 layer and so uses every shared tensor: it holds a replica and its partial gradient.
            long ownAdapter = layers * Count.PerLayerParameters;
            long adapterBytes = (ownAdapter + Count.SharedParameters) * 2L * Request.AdapterDtypeBytes;
            long optimizerBytes = ownAdapter * (8L + (Request.AdapterDtypeBytes < 4 ? 4 : 0));

            int inFlight = PipelineSchedule.InFlightBound(Request.ScheduleKind, p, Request.MicroBatches, k);
            double activation = inFlight * (layers * LayerActivationBytes + (hasHead ? HeadActivationBytes : 0));

            double forward = layers * LayerForward
                + (hasEmbedding ? Tokens * StageCostModel.EmbeddingForwardFlopsPerToken(Shape) : 0)
                + (hasHead ? Tokens * StageCostModel.HeadForwardFlopsPerToken(Shape) : 0);
            double backward = layers * LayerBackward + (hasHead ? Tokens * StageCostModel.HeadBackwardFlopsPerToken(Shape) : 0);

            return new StagePlan(k, first, end, hasEmbedding, hasHead,
                BaseWeightBytes: (long)Math.Ceiling(baseParams * Request.WeightDtypeBytes),
                AdapterBytes: adapterBytes,
                OptimizerBytes: optimizerBytes,
                ActivationBytes: (long)Math.Ceiling(activation),
                BoundaryBytes: hasHead ? 0 : BoundaryBytes,
                ForwardFlops: forward,
                BackwardFlops: backward,
                DeviceMemoryBytes: Request.MemoryFor(k));
        }

        /// <summary>Share of the device's memory the stage uses, or its raw bytes when memory is unlimited.</summary>
        public double MemoryRatio(StagePlan s) => s.DeviceMemoryBytes is { } d ? (double)s.TotalBytes / d : s.TotalBytes;
    }
}
