using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// <see cref="IEvaluationModel"/> over consecutive <see cref="EvaluationStage"/>s in this process: each stage's hidden
/// state feeds the next, the last is read out. It runs what the cluster's eval stages run, without the network, so a
/// test can check a split model against the whole one. Owns the stages.
/// </summary>
public sealed class PipelinedEvaluationModel : IEvaluationModel, IDisposable
{
    private readonly IReadOnlyList<EvaluationStage> _stages;

    public PipelinedEvaluationModel(IReadOnlyList<EvaluationStage> stages)
    {
        if (stages.Count == 0 || !stages[0].Model.HasEmbedding || !stages[^1].Model.HasHead)
            throw new ArgumentException("a pipeline needs stages from the embedding to the head");
        for (int i = 1; i < stages.Count; i++)
            if (stages[i].Model.FirstLayer != stages[i - 1].Model.EndLayer)
                throw new ArgumentException($"stage {i} starts at layer {stages[i].Model.FirstLayer}, expected {stages[i - 1].Model.EndLayer}");
        _stages = stages;
    }

    public LlamaConfig Config => _stages[0].Model.Config;

    public EvaluationResult Run(EvaluationRequest request)
    {
        if (request.Problem(Config.VocabSize, Config.MaxPositionEmbeddings) is { } problem) throw new ArgumentException(problem);
        using var logits = Forward(request, null);
        return LogitsReadout.Read(logits, request);
    }

    public IGreedyDecoder StartDecoding(int capacity) => new Decoder(this, capacity);

    private TorchSharp.torch.Tensor Forward(EvaluationRequest request, KvCache? cache)
    {
        TorchSharp.torch.Tensor? x = null;
        foreach (var stage in _stages)
        {
            var next = stage.Forward(request, x, cache);
            x?.Dispose();
            x = next;
        }
        return x!;
    }

    public void Dispose()
    {
        foreach (var s in _stages) s.Dispose();
    }

    private sealed class Decoder(PipelinedEvaluationModel owner, int capacity) : IGreedyDecoder
    {
        // One cache serves every stage: it is keyed by global layer index.
        private readonly KvCache _cache = new(capacity);
        private int _length;

        public int Next(IReadOnlyList<int> tokens)
        {
            var request = EvaluationRequest.ForGreedyStep(tokens, _length);
            using var logits = owner.Forward(request, _cache);
            _length += tokens.Count;
            return LogitsReadout.GreedyNext(logits);
        }

        public void Dispose() => _cache.Dispose();
    }
}
