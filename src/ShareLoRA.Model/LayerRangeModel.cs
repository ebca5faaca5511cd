using ShareLoRA.Model.IO;
using ShareLoRA.Model.Layers;
using ShareLoRA.Model.Llama;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ShareLoRA.Model;

/// <summary>
/// What every family's model is: a contiguous piece of a transformer — layers [FirstLayer, EndLayer) of the config's
/// layers, the embedding only when it is the first piece and the head only when it is the last — built frozen in one
/// dtype on one device from a weight source, so a pipeline stage reads only its own tensors. The family supplies how to
/// build each part, the names they register under and its Hugging Face tensor names and config.json; the forward
/// passes stay in the family's class, and saving is written once here.
/// </summary>
/// <remarks>
/// The parts are registered as embedding, layers (a ModuleList numbered from 0 within the range), head, under the
/// family's names: those names, in that order, are the keys of state dicts, checkpoints, adapter files and the wire
/// (tests/ShareLoRA.Model.Tests/ModuleNamesGoldenTests.txt pins them).
/// </remarks>
public abstract class LayerRangeModel<TConfig, TEmbedding, TLayer, THead> : nn.Module, ILayerRangeModel
    where TEmbedding : nn.Module
    where TLayer : nn.Module
    where THead : nn.Module
{
    private readonly TEmbedding? _embedding;
    private readonly ModuleList<TLayer> _layers;
    private readonly THead? _head;
    private readonly int _numLayers;

    /// <param name="name">The module's name (its class name).</param>
    /// <param name="config">The whole model's configuration.</param>
    /// <param name="numLayers">Number of layers of the whole model (the range is checked against it).</param>
    /// <param name="options">The layer range, whether to include the embedding and the head, dtype and device.</param>
    /// <param name="moduleNames">Names the embedding, the layer list and the head are registered under.</param>
    /// <param name="buildEmbedding">Builds the embedding; called only when options include it.</param>
    /// <param name="buildLayer">Builds the layer of a given absolute index; called for each index of the range in order.</param>
    /// <param name="buildHead">
    /// Builds the head from the embedding this piece holds (null when it holds none), so a tied head can copy the table
    /// instead of reading it twice; called only when options include the head.
    /// </param>
    protected LayerRangeModel(string name, TConfig config, int numLayers, ModelLoadOptions options,
        (string Embedding, string Layers, string Head) moduleNames,
        Func<TEmbedding> buildEmbedding, Func<int, TLayer> buildLayer, Func<TEmbedding?, THead> buildHead) : base(name)
    {
        Config = config;
        _numLayers = numLayers;
        FirstLayer = options.FirstLayer;
        EndLayer = options.EndLayer ?? numLayers;
        if (FirstLayer < 0 || EndLayer > numLayers || FirstLayer > EndLayer)
            throw new ArgumentException($"layer range [{FirstLayer}, {EndLayer}) is outside the model's {numLayers} layers");
        FamilyWeights.CheckDType(options.DType);
        DType = options.DType;
        Device = torch.device(options.Device);

        if (options.IncludeEmbedding)
        {
            _embedding = buildEmbedding();
            register_module(moduleNames.Embedding, _embedding);
        }
        _layers = new ModuleList<TLayer>();
        for (int i = FirstLayer; i < EndLayer; i++) _layers.Add(buildLayer(i));
        register_module(moduleNames.Layers, _layers);
        if (options.IncludeHead)
        {
            _head = buildHead(_embedding);
            register_module(moduleNames.Head, _head);
        }
    }

    public TConfig Config { get; }
    public int FirstLayer { get; }
    public int EndLayer { get; }
    public bool HasEmbedding => _embedding is not null;
    public bool HasHead => _head is not null;
    public ScalarType DType { get; }
    public Device Device { get; }

    public TEmbedding? Embedding => _embedding;
    public IReadOnlyList<TLayer> Layers => _layers.ToList();
    public THead? Head => _head;

    /// <summary>The range's layers in order, without the copy <see cref="Layers"/> makes (for forward passes).</summary>
    protected ModuleList<TLayer> RangeLayers => _layers;

    /// <summary>True when this piece is the whole model: embedding, all layers and head (what Save needs).</summary>
    private bool IsWholeModel => HasEmbedding && HasHead && FirstLayer == 0 && EndLayer == _numLayers;

    /// <summary>The weights this piece holds under their Hugging Face names, in the order a saved file lists them.</summary>
    public abstract IEnumerable<KeyValuePair<string, Tensor>> HfTensors();

    /// <summary>The config as the family's Hugging Face config.json, with torch_dtype set to <paramref name="torchDtype"/>.</summary>
    protected abstract string ConfigJson(string torchDtype);

    /// <summary>
    /// Writes config.json (torch_dtype = the model's dtype) and model.safetensors (<see cref="HfTensors"/>, each in the
    /// model's dtype, so a float32 trainable head is stored like the frozen weights) into <paramref name="dir"/>.
    /// Needs the whole model.
    /// </summary>
    public void Save(string dir)
    {
        if (!IsWholeModel)
            throw new InvalidOperationException("Save needs the whole model (embedding, all layers, head)");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), ConfigJson(FamilyWeights.DTypeName(DType)));
        using var scope = NewDisposeScope();
        var tensors = HfTensors().Select(t => new KeyValuePair<string, Tensor>(t.Key, t.Value.detach().to_type(DType))).ToList();
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Checks that <paramref name="hidden"/> is [batch, seq, <paramref name="hiddenSize"/>], as every family's layers take it.</summary>
    protected static void CheckHidden(Tensor hidden, int hiddenSize)
    {
        if (hidden.dim() != 3 || hidden.shape[2] != hiddenSize)
            throw new ArgumentException($"hidden must be [batch, seq, {hiddenSize}] (got [{string.Join(", ", hidden.shape)}])");
    }

    /// <summary>
    /// Checks that a forward at <paramref name="startPosition"/> continues <paramref name="cache"/> (when given): the
    /// cache must hold exactly that many positions for this piece's first layer (the causal families' KV cache).
    /// </summary>
    protected void CheckCachePosition(int startPosition, KvCache? cache)
    {
        if (startPosition < 0) throw new ArgumentException($"startPosition must be >= 0 (got {startPosition})");
        if (cache is not null && _layers.Count > 0 && cache.Length(FirstLayer) != startPosition)
            throw new ArgumentException($"KV cache holds {cache.Length(FirstLayer)} positions for layer {FirstLayer} but startPosition is {startPosition}");
    }

    /// <summary>Sets requires_grad false on every base weight (they are created frozen; this restores it).</summary>
    public virtual void Freeze()
    {
        foreach (var p in parameters()) p.requires_grad = false;
    }
}
