using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.IO;
using ShareLoRA.Model.Llama;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Evaluation;

/// <summary>
/// A forward-only piece of a model for evaluation: the whole model in one process, or one pipeline stage's layer range
/// (the first also embeds the token ids, the last also applies the head). The same object serves both, so a pipeline of
/// stages runs exactly the single-process operations, layer by layer.
/// </summary>
public sealed class EvaluationStage : IDisposable
{
    private readonly IModelAdapters? _adapters;
    private readonly AdapterBank? _ownedAdapters;
    private readonly bool _ownsModel;

    /// <summary>Wraps a loaded model (or model part) and its adapters; neither is disposed by this stage.</summary>
    public EvaluationStage(LlamaModel model, IModelAdapters? adapters = null) : this(model, adapters, null, ownsModel: false) { }

    private EvaluationStage(LlamaModel model, IModelAdapters? adapters, AdapterBank? ownedAdapters, bool ownsModel)
    {
        Model = model;
        _adapters = adapters;
        _ownedAdapters = ownedAdapters;
        _ownsModel = ownsModel;
    }

    public LlamaModel Model { get; }

    /// <summary>
    /// Loads layers [<paramref name="firstLayer"/>, <paramref name="endLayer"/>) of a Hugging Face model directory, the
    /// embedding when the range starts at 0 and the head when it ends at the last layer, in float32, and the adapter of
    /// <paramref name="adapterDir"/> (native or PEFT, checked against the model) cut to those layers, without dropout.
    /// </summary>
    public static EvaluationStage Load(string modelDir, int firstLayer, int endLayer, string? adapterDir, string device = "cpu")
    {
        using var checkpoint = HfCheckpoint.Open(modelDir);
        var config = checkpoint.Config;
        if (firstLayer < 0 || endLayer > config.NumHiddenLayers || firstLayer >= endLayer)
            throw new ArgumentException($"{modelDir}: layer range [{firstLayer}, {endLayer}) must be non-empty and inside the model's {config.NumHiddenLayers} layers");
        var model = LlamaModel.Load(checkpoint, new ModelLoadOptions(firstLayer, endLayer, IncludeEmbedding: firstLayer == 0,
            IncludeHead: endLayer == config.NumHiddenLayers, ScalarType.Float32, device));
        AdapterBank? slice = null;
        try
        {
            if (adapterDir is not null)
            {
                using var full = AdapterDirectory.Load(adapterDir, config, ScalarType.Float32, model.Device);
                slice = AdapterBank.Create(full.Layout, full.Seed, firstLayer, endLayer, ScalarType.Float32, model.Device);
                slice.LoadValues(full.Parameters.ToDictionary(p => p.Name, p => p.Value), ignoreOthers: true, source: AdapterDirectory.SourceFile(adapterDir));
                slice.Context = AdapterForwardContext.Eval;
            }
            return new EvaluationStage(model, slice, slice, ownsModel: true);
        }
        catch
        {
            slice?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs this piece on a request: the first stage embeds the request's token ids, the others take
    /// <paramref name="hidden"/> [b, s, h] from the previous stage. Returns the hidden state [b, s, h], or the logits
    /// [b, s, vocab] when this piece holds the head. <paramref name="cache"/> (greedy decoding) must hold
    /// <see cref="EvaluationRequest.StartPosition"/> positions.
    /// </summary>
    public Tensor Forward(EvaluationRequest request, Tensor? hidden = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long[] shape = [request.Rows, request.Columns];
        Tensor x;
        if (Model.HasEmbedding)
            x = Model.Embed(tensor(request.InputIds.Select(i => (long)i).ToArray(), shape, ScalarType.Int64).to(Model.Device));
        else
            x = (hidden ?? throw new ArgumentException("a stage without the embedding needs the previous stage's hidden state")).to(Model.Device);
        var mask = request.AttentionMask is null ? null : tensor(request.AttentionMask.Select(i => (long)i).ToArray(), shape, ScalarType.Int64).to(Model.Device);
        x = Model.ForwardLayers(x, request.StartPosition, cache, _adapters, mask);
        if (Model.HasHead) x = Model.Logits(x);
        return x.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _ownedAdapters?.Dispose();
        if (_ownsModel) Model.Dispose();
    }
}
