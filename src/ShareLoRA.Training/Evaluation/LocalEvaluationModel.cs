using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Llama;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// <see cref="IEvaluationModel"/> on a whole model in this process (the single-process reference): the model plus its
/// adapters as one <see cref="EvaluationStage"/>, read out by <see cref="LogitsReadout"/>. Owns neither.
/// </summary>
public sealed class LocalEvaluationModel(LlamaModel model, IModelAdapters? adapters = null) : IEvaluationModel
{
    private readonly EvaluationStage _stage = CheckWhole(model, adapters);

    public LlamaConfig Config => model.Config;

    public EvaluationResult Run(EvaluationRequest request)
    {
        if (request.Problem(Config.VocabSize, Config.MaxPositionEmbeddings) is { } problem) throw new ArgumentException(problem);
        using var logits = _stage.Forward(request);
        return LogitsReadout.Read(logits, request);
    }

    public IGreedyDecoder StartDecoding(int capacity) => new Decoder(this, capacity);

    private static EvaluationStage CheckWhole(LlamaModel model, IModelAdapters? adapters)
    {
        if (!model.HasEmbedding || !model.HasHead)
            throw new ArgumentException("local evaluation needs the whole model (embedding, every layer, head)");
        return new EvaluationStage(model, adapters);
    }

    private sealed class Decoder(LocalEvaluationModel owner, int capacity) : IGreedyDecoder
    {
        private readonly KvCache _cache = new(capacity);
        private int _length;

        public int Next(IReadOnlyList<int> tokens)
        {
            var request = EvaluationRequest.ForGreedyStep(tokens, _length);
            if (request.Problem(owner.Config.VocabSize, owner.Config.MaxPositionEmbeddings) is { } problem) throw new ArgumentException(problem);
            using var logits = owner._stage.Forward(request, cache: _cache);
            _length += tokens.Count;
            return LogitsReadout.GreedyNext(logits);
        }

        public void Dispose() => _cache.Dispose();
    }
}
