using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Planning;
using Xunit;
using Xunit.Abstractions;

namespace ShareLoRA.Training.Tests.Planning;

public class PartitionPlannerTests(ITestOutputHelper output)
{
    private const long GiB = 1L << 30;

    // Tiny vocabulary: embeddings and head weigh next to nothing, so layers alone decide the balance.
    private static ModelShape Uniform(int layers) => new(256, 688, layers, 8, 4, 32, 16, false);

    private static PlanRequest Request(int stages, AdapterMethod method = AdapterMethod.ShareA, ScheduleKind kind = ScheduleKind.OneFOneB,
        int microBatches = 8, int microBatchSize = 1, int seqLen = 512, IReadOnlyList<long>? memory = null) =>
        new(stages, microBatches, microBatchSize, seqLen, kind, SharingPolicy.For(method, TargetModules.All), Rank: 64,
            WeightDtypeBytes: 2, DeviceMemoryBytes: memory);

    private static void AssertCoversAllLayersOnce(PartitionPlan plan, ModelShape shape, int stages)
    {
        Assert.Equal(stages, plan.Stages.Count);
        Assert.Equal(0, plan.Stages[0].FirstLayer);
        Assert.Equal(shape.NumLayers, plan.Stages[^1].EndLayer);
        for (int k = 0; k < stages; k++)
        {
            var s = plan.Stages[k];
            Assert.Equal(k, s.Index);
            Assert.True(s.LayerCount >= 1);
            if (k > 0) Assert.Equal(plan.Stages[k - 1].EndLayer, s.FirstLayer);
            Assert.Equal(k == 0, s.HasEmbedding);
            Assert.Equal(k == stages - 1, s.HasHead);
        }
        Assert.Equal(shape.NumLayers, plan.LayerCounts.Sum());
    }

    [Theory]
    [InlineData(12, 1)] [InlineData(12, 2)] [InlineData(12, 3)] [InlineData(12, 4)] [InlineData(12, 6)]
    [InlineData(10, 3)] [InlineData(10, 4)] [InlineData(7, 5)] [InlineData(32, 5)]
    public void Ranges_cover_every_layer_once_and_balance_uniform_layers(int layers, int stages)
    {
        var shape = Uniform(layers);
        foreach (var kind in new[] { ScheduleKind.GPipe, ScheduleKind.OneFOneB })
        {
            var plan = PartitionPlanner.Plan(shape, Request(stages, kind: kind));
            AssertCoversAllLayersOnce(plan, shape, stages);
            // Balanced compute: no stage has more layers than ceil(L / p), the optimum for identical layers.
            Assert.Equal((layers + stages - 1) / stages, plan.LayerCounts.Max());
            if (layers % stages == 0) Assert.All(plan.LayerCounts, n => Assert.Equal(layers / stages, n));
        }
    }

    [Fact]
    public void Uneven_uniform_split_breaks_compute_ties_by_memory()
    {
        // Compute first: the head (small here, but not zero) keeps the last stage at 2 layers, so two of stages 0-2 take 3.
        // Memory second: under 1F1B stage i holds p - i micro-batches, so stage 0 (4 in flight) keeps only 2 layers.
        var plan = PartitionPlanner.Plan(Uniform(10), Request(4));
        Assert.Equal([2, 3, 3, 2], plan.LayerCounts);
        // GPipe holds m micro-batches on every stage: memory no longer prefers later stages, compute alone decides.
        var gpipe = PartitionPlanner.Plan(Uniform(10), Request(4, kind: ScheduleKind.GPipe));
        Assert.Equal(2, gpipe.LayerCounts[^1]);
    }

    [Fact]
    public void As_many_stages_as_layers_gives_one_layer_each()
    {
        var plan = PartitionPlanner.Plan(Uniform(6), Request(6));
        Assert.All(plan.LayerCounts, n => Assert.Equal(1, n));
        AssertCoversAllLayersOnce(plan, Uniform(6), 6);
    }

    [Fact]
    public void More_stages_than_layers_is_a_one_line_error()
    {
        var e = Assert.Throws<PlanningException>(() => PartitionPlanner.Plan(Uniform(4), Request(5)));
        Assert.Equal("plan: cannot split 4 layers into 5 stages (each stage needs at least one layer)", e.Message);
    }

    [Fact]
    public void Llama3_8b_on_4_stages()
    {
        var shape = ModelPresets.Get("llama3-8b");
        var request = Request(4, microBatches: 16, seqLen: 512);
        var plan = PartitionPlanner.Plan(shape, request);
        output.WriteLine(plan.ToString());
        AssertCoversAllLayersOnce(plan, shape, 4);

        // The head (2 h V FLOPs per token, about 2.4 layers) makes the last stage take fewer layers.
        Assert.True(plan.Stages[^1].LayerCount < plan.Stages[1].LayerCount);
        // Optimal to within one layer: the slowest stage is at most one layer's cost above the ideal average.
        double total = plan.Stages.Sum(s => s.ForwardFlops + s.BackwardFlops);
        double oneLayer = (plan.Stages[1].ForwardFlops + plan.Stages[1].BackwardFlops) / plan.Stages[1].LayerCount;
        Assert.True(plan.Stages.Max(s => s.ForwardFlops + s.BackwardFlops) <= total / 4 + oneLayer);

        // Untied model: base weights over all stages are the whole model at 2 bytes.
        Assert.Equal(shape.TotalParameters * 2, plan.Stages.Sum(s => s.BaseWeightBytes));
        Assert.Equal(shape.EmbeddingParameters * 2 + plan.Stages[0].LayerCount * shape.LayerParameters * 2, plan.Stages[0].BaseWeightBytes);

        // share-a: the shared A's are 64 x (6 x 4096 + 14336) and cross the wire twice per stage per step in fp32.
        var count = ParameterCounter.Count(shape, request.SharingPolicy, 64);
        Assert.Equal(64L * (6 * 4096 + 14336), plan.SharedParameters);
        Assert.Equal(2L * 4 * plan.SharedParameters * 4, plan.AdapterSyncBytes);
        Assert.Equal(2L * 167_772_160 * 4, plan.LoraSyncBytes);
        // p x shared (4 x 2.49 M) against every layer's A and B (167.8 M): about 17x less traffic.
        Assert.True(plan.AdapterSyncBytes < plan.LoraSyncBytes / 16);

        // One activation of 512 tokens x 4096 x bf16 per micro-batch per boundary, forward and back.
        Assert.Equal(512L * 4096 * 2, plan.Stages[0].BoundaryBytes);
        Assert.Equal(0, plan.Stages[^1].BoundaryBytes);
        Assert.Equal(2L * 16 * 3 * 512 * 4096 * 2, plan.ActivationTrafficBytes);

        // 1F1B bubble with nearly balanced stages is close to (p - 1) / (m + p - 1).
        Assert.InRange(plan.BubbleFraction, 3.0 / 19, 3.0 / 19 + 0.05);
        Assert.True(plan.Fits);
        Assert.Equal(count.SharedParameters * 12, plan.CoordinatorOptimizerBytes);
    }

    [Theory]
    [InlineData(AdapterMethod.Lora)]
    [InlineData(AdapterMethod.ShareA)]
    [InlineData(AdapterMethod.ShareB)]
    [InlineData(AdapterMethod.ShareAB)]
    public void Shared_optimizer_state_is_counted_once_on_the_coordinator(AdapterMethod method)
    {
        var shape = ModelPresets.Get("llama-7b");
        var request = Request(4, method);
        var plan = PartitionPlanner.Plan(shape, request);
        var count = ParameterCounter.Count(shape, request.SharingPolicy, 64);

        // fp32 adapters: AdamW m + v = 8 bytes per per-layer element on the stages; 12 per shared element on the coordinator.
        Assert.Equal(8 * count.PerLayerParameters * shape.NumLayers, plan.Stages.Sum(s => s.OptimizerBytes));
        Assert.Equal(12 * count.SharedParameters, plan.CoordinatorOptimizerBytes);
        // Each stage holds its own layers' tensors plus one replica of the shared ones, weight and gradient, fp32.
        foreach (var s in plan.Stages)
            Assert.Equal((s.LayerCount * count.PerLayerParameters + count.SharedParameters) * 8, s.AdapterBytes);
        Assert.Equal(2L * 4 * count.SharedParameters * 4, plan.AdapterSyncBytes);
        if (method == AdapterMethod.Lora) Assert.Equal(0, plan.AdapterSyncBytes);
    }

    [Fact]
    public void Bf16_adapters_add_an_fp32_master_copy_to_the_optimizer_state()
    {
        var shape = ModelPresets.Get("llama-7b");
        var request = Request(2, AdapterMethod.Lora) with { AdapterDtypeBytes = 2 };
        var plan = PartitionPlanner.Plan(shape, request);
        Assert.Equal(12L * 159_907_840, plan.Stages.Sum(s => s.OptimizerBytes));
        Assert.Equal(4L * 159_907_840, plan.Stages.Sum(s => s.AdapterBytes));
    }

    [Fact]
    public void Activation_memory_follows_the_schedules_in_flight_bound()
    {
        var shape = Uniform(8);
        int[] split = [2, 2, 2, 2];
        var gpipe = PartitionPlanner.Evaluate(shape, Request(4, kind: ScheduleKind.GPipe, microBatches: 8), split);
        var oneF = PartitionPlanner.Evaluate(shape, Request(4, kind: ScheduleKind.OneFOneB, microBatches: 8), split);
        for (int k = 0; k < 3; k++) // the last stage also holds logits; compare the identical middle stages
        {
            Assert.Equal(gpipe.Stages[k].ActivationBytes / 8.0, oneF.Stages[k].ActivationBytes / (4.0 - k), 0);
        }
        Assert.True(oneF.Stages[0].ActivationBytes > oneF.Stages[2].ActivationBytes);
    }

    [Fact]
    public void Tied_embeddings_need_a_second_copy_only_when_the_head_is_on_another_stage()
    {
        var tied = Uniform(4) with { TiedEmbeddings = true };
        var one = PartitionPlanner.Plan(tied, Request(1));
        var two = PartitionPlanner.Plan(tied, Request(2));
        Assert.Equal(tied.TotalParameters * 2, one.Stages.Sum(s => s.BaseWeightBytes));
        Assert.Equal((tied.TotalParameters + tied.EmbeddingParameters) * 2, two.Stages.Sum(s => s.BaseWeightBytes));
    }

    [Fact]
    public void Single_stage_has_no_bubble_and_no_boundary()
    {
        var plan = PartitionPlanner.Plan(ModelPresets.Get("llama-7b"), Request(1));
        Assert.Equal(0, plan.BubbleFraction);
        Assert.Equal(0, plan.ActivationTrafficBytes);
        Assert.True(plan.Stages[0].HasEmbedding && plan.Stages[0].HasHead);
    }

    [Fact]
    public void Stage_over_device_memory_is_a_one_line_error_naming_the_stage()
    {
        var shape = ModelPresets.Get("llama3-8b");
        // Enough for any stage except stage 2, whose device cannot hold even one layer.
        long[] memory = [80 * GiB, 80 * GiB, 256L << 20, 80 * GiB];
        var e = Assert.Throws<PlanningException>(() => PartitionPlanner.Plan(shape, Request(4, memory: memory)));
        output.WriteLine(e.Message);
        Assert.StartsWith("stage 2 (layers ", e.Message);
        Assert.Contains("but its device has 0.25 GiB", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Uniform_device_memory_too_small_for_the_model_names_the_fullest_stage()
    {
        var e = Assert.Throws<PlanningException>(() =>
            PartitionPlanner.Plan(ModelPresets.Get("llama3-8b"), Request(2, memory: [4 * GiB])));
        output.WriteLine(e.Message);
        Assert.Matches(@"^stage [01] \(layers \d+-\d+, (embeddings|head)\) needs \d+\.\d\d GiB but its device has 4\.00 GiB", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Memory_limit_moves_layers_away_from_a_small_device()
    {
        var shape = ModelPresets.Get("llama-7b");
        var free = PartitionPlanner.Plan(shape, Request(2));
        long stage0 = free.Stages[0].TotalBytes;
        // Give stage 0 a device just too small for its unconstrained share: the planner must shift layers to stage 1.
        var squeezed = PartitionPlanner.Plan(shape, Request(2, memory: [stage0 - 1, 80 * GiB]));
        Assert.True(squeezed.Fits);
        Assert.True(squeezed.Stages[0].LayerCount < free.Stages[0].LayerCount);
        Assert.True(squeezed.Stages[0].TotalBytes < stage0);
    }

    [Fact]
    public void Evaluate_reports_a_split_that_does_not_fit_instead_of_throwing()
    {
        var plan = PartitionPlanner.Evaluate(ModelPresets.Get("llama-7b"), Request(2, memory: [GiB]), [16, 16]);
        Assert.False(plan.Fits);
        Assert.False(plan.Stages[0].Fits);
        Assert.Contains("DOES NOT FIT", plan.ToString());
        Assert.Throws<PlanningException>(() => PartitionPlanner.Evaluate(ModelPresets.Get("llama-7b"), Request(2), [16, 15]));
    }

    [Theory]
    [InlineData(0, 8, 1, 512, "plan: stages must be > 0 (got 0)")]
    [InlineData(2, 0, 1, 512, "plan: micro_batches must be > 0 (got 0)")]
    [InlineData(2, 8, 0, 512, "plan: micro_batch_size must be > 0 (got 0)")]
    [InlineData(2, 8, 1, -1, "plan: seq_len must be > 0 (got -1)")]
    public void Invalid_requests_name_the_field(int stages, int microBatches, int microBatchSize, int seqLen, string message)
    {
        var request = Request(1) with { Stages = stages, MicroBatches = microBatches, MicroBatchSize = microBatchSize, SeqLen = seqLen };
        Assert.Equal(message, Assert.Throws<PlanningException>(() => PartitionPlanner.Plan(Uniform(4), request)).Message);
    }

    [Fact]
    public void Device_memory_list_must_match_the_stage_count()
    {
        var e = Assert.Throws<PlanningException>(() => PartitionPlanner.Plan(Uniform(4), Request(3, memory: [GiB, GiB])));
        Assert.Equal("plan: device_memory_bytes must have 1 or 3 entries, one per stage (got 2)", e.Message);
    }
}
