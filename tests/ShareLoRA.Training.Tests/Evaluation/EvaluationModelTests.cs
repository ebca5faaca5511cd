using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Generation;
using ShareLoRA.Model.Llama;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Evaluation;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Tests.Evaluation;

/// <summary>
/// The evaluation abstraction both ways: <see cref="LocalEvaluationModel"/> reads exactly what the model's own forward
/// gives, and a model split into <see cref="EvaluationStage"/>s (what the cluster's eval stages run) gives the whole
/// model's numbers bit for bit, with and without an adapter, loaded from directories or built in memory.
/// </summary>
public sealed class EvaluationModelTests : IDisposable
{
    private const long Seed = 7;
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static IReadOnlyList<IReadOnlyList<int>> Sequences => [[1, 5, 9, 12, 30], [1, 7], [1, 40, 41, 42, 43, 44, 45, 46]];

    private static EvaluationRequest TargetsRequest()
    {
        var examples = new[]
        {
            new TokenizedExample([1, 5, 9, 12, 30, 2], [-100, -100, 9, 12, 30, 2]),
            new TokenizedExample([1, 7, 8], [1, 7, 8]),
        };
        return EvaluationRequest.ForTargets(BatchCollator.Collate(examples, [0, 1], padId: 0));
    }

    // A share-a bank with random (non-zero) B, so the adapter changes every layer's output.
    private static AdapterBank RandomAdapter(ShareLoRA.Model.Config.LlamaConfig config)
    {
        var layout = AdapterLayout.ForMethod("share-a", config.NumHiddenLayers, AdapterLayout.LlamaDims(config), TargetModules.All, 4, 8, 0.1);
        var bank = AdapterBank.Create(layout, seed: 5);
        using var noGrad = no_grad();
        using var g = new TorchSharp.torch.Generator(17, CPU);
        foreach (var p in bank.Parameters.Where(p => p.Matrix == 'B'))
        {
            using var r = randn(p.Value.shape, p.Value.dtype, CPU, false, g);
            p.Value.copy_(r.mul_(0.5));
        }
        bank.Context = AdapterForwardContext.Eval;
        return bank;
    }

    private static void AssertSame(EvaluationResult expected, EvaluationResult actual)
    {
        Assert.Equal(expected.NextToken, actual.NextToken);
        Assert.Equal(expected.Values.Length, actual.Values.Length);
        for (int r = 0; r < expected.Values.Length; r++)
            Assert.Equal(expected.Values[r].Select(BitConverter.SingleToInt32Bits), actual.Values[r].Select(BitConverter.SingleToInt32Bits));
    }

    private static void AssertSameModels(IEvaluationModel expected, IEvaluationModel actual)
    {
        AssertSame(expected.Run(EvaluationRequest.ForCandidates(Sequences, [10, 11, 12, 13])), actual.Run(EvaluationRequest.ForCandidates(Sequences, [10, 11, 12, 13])));
        AssertSame(expected.Run(EvaluationRequest.ForCandidates([Sequences[0]], [3, 79])), actual.Run(EvaluationRequest.ForCandidates([Sequences[0]], [3, 79])));
        AssertSame(expected.Run(TargetsRequest()), actual.Run(TargetsRequest()));
        using var a = expected.StartDecoding(20);
        using var b = actual.StartDecoding(20);
        IReadOnlyList<int> feed = [1, 10, 20, 30];
        for (int i = 0; i < 8; i++)
        {
            int next = a.Next(feed);
            Assert.Equal(next, b.Next(feed));
            feed = [next];
        }
    }

    [Fact]
    public void Local_candidate_logits_are_the_model_forward_at_each_last_real_token()
    {
        using var model = TinyModel.Create();
        var request = EvaluationRequest.ForCandidates(Sequences, [10, 11, 12, 13]);
        Assert.Equal([4, 1, 7], request.LastPositions());
        Assert.NotNull(request.AttentionMask);
        var result = new LocalEvaluationModel(model).Run(request);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(request.InputIds.Select(i => (long)i).ToArray(), [3, 8]);
        var mask = tensor(request.AttentionMask!.Select(i => (long)i).ToArray(), [3, 8]);
        var logits = model.Forward(ids, attentionMask: mask);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++)
                Assert.Equal(logits[r, request.LastPositions()[r], 10 + c].item<float>(), result.Values[r][c]);
    }

    [Fact]
    public void Local_target_log_probs_are_log_softmax_at_each_next_label_in_order()
    {
        using var model = TinyModel.Create();
        var request = TargetsRequest();
        var result = new LocalEvaluationModel(model).Run(request);
        Assert.Equal([4, 2], result.Values.Select(v => v.Length));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = tensor(request.InputIds.Select(i => (long)i).ToArray(), [2, 6]);
        var mask = tensor(request.AttentionMask!.Select(i => (long)i).ToArray(), [2, 6]);
        var logProbs = model.Forward(ids, attentionMask: mask).narrow(1, 0, 5).log_softmax(-1);
        // Row 0: targets at labels 2..5 (predicted from positions 1..4); row 1: labels 1, 2 (positions 0, 1).
        Assert.Equal([logProbs[0, 1, 9].item<float>(), logProbs[0, 2, 12].item<float>(), logProbs[0, 3, 30].item<float>(), logProbs[0, 4, 2].item<float>()], result.Values[0]);
        Assert.Equal([logProbs[1, 0, 7].item<float>(), logProbs[1, 1, 8].item<float>()], result.Values[1]);
    }

    [Fact]
    public void Local_greedy_decoding_matches_the_model_layer_generator()
    {
        using var model = TinyModel.Create();
        int[] prompt = [1, 10, 20, 30];
        var expected = ShareLoRA.Model.Generation.Generator.Generate(model, prompt, new GenerationOptions(10, Temperature: 0));
        using var decoder = new LocalEvaluationModel(model).StartDecoding(prompt.Length + 10);
        var ours = new List<int>();
        IReadOnlyList<int> feed = prompt;
        for (int i = 0; i < 10; i++)
        {
            ours.Add(decoder.Next(feed));
            feed = [ours[^1]];
        }
        Assert.Equal(expected, ours);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_model_split_into_stages_gives_the_whole_models_numbers_bit_for_bit(bool withAdapter)
    {
        var config = TinyModel.Config();
        using var whole = TinyModel.Create(Seed);
        using var bank = withAdapter ? RandomAdapter(config) : null;
        // Stage parts built from the same seed hold exactly the whole model's weights (CreateRandom draws per tensor name).
        var stages = new List<EvaluationStage>();
        using var first = LlamaModel.CreateRandom(config, Seed, new ModelLoadOptions(0, 1, IncludeHead: false), initStd: 0.5);
        using var second = LlamaModel.CreateRandom(config, Seed, new ModelLoadOptions(1, 2, IncludeEmbedding: false), initStd: 0.5);
        using var pipeline = new PipelinedEvaluationModel([new EvaluationStage(first, bank), new EvaluationStage(second, bank)]);
        AssertSameModels(new LocalEvaluationModel(whole, bank), pipeline);
    }

    [Fact]
    public void Stages_loaded_from_directories_with_a_sliced_adapter_match_the_whole_model()
    {
        var modelDir = Path.Combine(_folder.Path, "model");
        var adapterDir = Path.Combine(_folder.Path, "adapter");
        var config = TinyModel.Config() with { NumHiddenLayers = 3 };
        using var whole = LlamaModel.CreateRandom(config, Seed, initStd: 0.5);
        whole.Save(modelDir);
        using (var bank = RandomAdapter(config)) AdapterDirectory.Save(bank, adapterDir, "tiny");
        using var loadedBank = AdapterDirectory.Load(adapterDir, config);

        var ranges = EvaluationPartition.Split(3, 2);
        Assert.Equal([(0, 2), (2, 3)], ranges);
        using var pipeline = new PipelinedEvaluationModel(ranges.Select(r => EvaluationStage.Load(modelDir, r.FirstLayer, r.EndLayer, adapterDir)).ToList());
        AssertSameModels(new LocalEvaluationModel(whole, loadedBank), pipeline);

        // Without the adapter the numbers differ: the slice really is applied.
        var withAdapter = pipeline.Run(EvaluationRequest.ForCandidates([Sequences[0]], [10, 11]));
        var plain = new LocalEvaluationModel(whole).Run(EvaluationRequest.ForCandidates([Sequences[0]], [10, 11]));
        Assert.NotEqual(plain.Values[0], withAdapter.Values[0]);
    }

    [Fact]
    public void Evaluators_give_the_same_reports_on_the_split_model()
    {
        var config = TinyModel.Config();
        using var whole = TinyModel.Create(Seed);
        using var first = LlamaModel.CreateRandom(config, Seed, new ModelLoadOptions(0, 1, IncludeHead: false), initStd: 0.5);
        using var second = LlamaModel.CreateRandom(config, Seed, new ModelLoadOptions(1, 2, IncludeEmbedding: false), initStd: 0.5);
        using var pipeline = new PipelinedEvaluationModel([new EvaluationStage(first), new EvaluationStage(second)]);
        var local = new LocalEvaluationModel(whole);
        var tokenizer = new AlphabetTokenizer();

        RawExample[] records = [new TextExample("Hello there", "f:1"), new AlpacaExample("Add", "1 2", "3", "f:2"), new TextExample("ab", "f:3")];
        var examples = PerplexityEvaluator.Tokenize(tokenizer, records, 64, out _);
        Assert.Equal(PerplexityEvaluator.Evaluate(local, examples, batchSize: 2), PerplexityEvaluator.Evaluate(pipeline, examples, batchSize: 2));

        var a = GreedyTextGenerator.Generate(local, tokenizer, [1, 10, 20], 9, ["zz"], new HashSet<int> { 2 });
        var b = GreedyTextGenerator.Generate(pipeline, tokenizer, [1, 10, 20], 9, ["zz"], new HashSet<int> { 2 });
        Assert.Equal(a.TokenIds, b.TokenIds);
        Assert.Equal(a.Text, b.Text);
    }

    [Fact]
    public void Perplexity_through_the_abstraction_keeps_the_float64_token_weighted_sum()
    {
        // NegativeSum reduces in float64 over every target of the batch at once, as the single-process code always did.
        var (sum, count) = PerplexityEvaluator.NegativeSum([[-1.5f, -0.25f], [], [-2f]]);
        Assert.Equal(3.75, sum);
        Assert.Equal(3, count);
    }

    [Theory]
    [InlineData(5, 2, "0-3,3-5")]
    [InlineData(5, 5, "0-1,1-2,2-3,3-4,4-5")]
    [InlineData(4, 1, "0-4")]
    [InlineData(7, 3, "0-3,3-5,5-7")]
    public void Partition_splits_layers_evenly_longer_runs_first(int layers, int stages, string expected)
    {
        Assert.Equal(expected, string.Join(",", EvaluationPartition.Split(layers, stages).Select(r => $"{r.FirstLayer}-{r.EndLayer}")));
    }

    [Fact]
    public void Partition_and_requests_refuse_what_cannot_run()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => EvaluationPartition.Split(2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => EvaluationPartition.Split(2, 0));
        var good = EvaluationRequest.ForCandidates(Sequences, [10]);
        Assert.Null(good.Problem(80, 256));
        Assert.Equal("candidate token id 80 is outside the vocabulary [0, 80)", (good with { CandidateIds = [80] }).Problem(80, 256));
        Assert.Equal("input ids must hold 24 values (rows x columns), found 3", (good with { InputIds = [1, 2, 3] }).Problem(80, 256));
        Assert.Equal("a batch of more than one row needs an attention mask", (good with { AttentionMask = null }).Problem(80, 256));
        Assert.Equal("positions [250, 251) exceed the model's 250 positions", EvaluationRequest.ForGreedyStep([1], 250).Problem(80, 250));
        Assert.Equal("token id 99 is outside the vocabulary [0, 80)", EvaluationRequest.ForGreedyStep([99], 0).Problem(80, 256));
        Assert.Equal("labels must hold 12 values, found 0", (TargetsRequest() with { Labels = [] }).Problem(80, 256));
    }
}
