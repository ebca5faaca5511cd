using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// One pipeline stage's share of a training step, as a plain object: a model part (<see cref="IStageModel"/>: Llama,
/// GPT-2 or RoBERTa) built for layers [FirstLayer, EndLayer) (plus the embedding on the first stage and the head and
/// loss on the last) and an <see cref="AdapterBank"/> for the same layers holding a replica of the shared tensors. It
/// runs forward and backward of single micro-batches in whatever order a schedule dictates, keeping each micro-batch's
/// autograd graph between the two; accumulates adapter gradients over the step; reports the partial gradients of the
/// shared tensors and the squared norm of its own; and steps its per-layer tensors (and a trainable head, RoBERTa's
/// classifier on the last stage) with its own AdamW. The single-process trainer and the stage actors drive the same object.
/// </summary>
/// <remarks>
/// Call every method from one thread (TorchSharp dispose scopes are thread-static). Tensors passed in stay the
/// caller's; tensors returned are the caller's to dispose (they join the caller's dispose scope when it has one).
/// </remarks>
public sealed class PipelineStage : IDisposable
{
    private readonly IStageModel _model;
    private readonly AdapterBank _bank;
    private readonly AdapterAdamW _optimizer;
    // The trainable head in two groups as the HF Trainer (and GlueTrainer) builds them: weights with the run's weight
    // decay, biases without. Empty when the stage has no trainable head.
    private readonly List<AdapterAdamW> _headOptimizers = [];
    private readonly Dictionary<int, InFlight> _inFlight = [];
    private bool _disposed;

    /// <summary>The graph ends of one forwarded micro-batch: the input leaf (not on the first stage) and the output
    /// activation, or the scaled loss on the last stage.</summary>
    private sealed record InFlight(Tensor? Input, Tensor Output);

    /// <summary>Takes ownership of <paramref name="model"/> and <paramref name="bank"/>; their layer ranges must agree.</summary>
    public PipelineStage(int index, LlamaModel model, AdapterBank bank, AdamWSettings optimizer)
        : this(index, new LlamaStageModel(model), bank, optimizer) { }

    /// <summary>
    /// Takes ownership of <paramref name="model"/> (any family) and <paramref name="bank"/>; their layer ranges must agree.
    /// A trainable head of the model part is stepped by this stage's optimizer (weight decay on its weights only).
    /// </summary>
    public PipelineStage(int index, IStageModel model, AdapterBank bank, AdamWSettings optimizer)
    {
        if (bank.FirstLayer != model.FirstLayer || bank.EndLayer != model.EndLayer)
            throw new ArgumentException(
                $"stage {index}: adapter bank holds layers [{bank.FirstLayer}, {bank.EndLayer}) but the model part holds [{model.FirstLayer}, {model.EndLayer})");
        Index = index;
        _model = model;
        _bank = bank;
        _model.Freeze();
        LocalParameters = bank.Parameters.Where(p => !p.Shared).ToList();
        SharedParameters = bank.Parameters.Where(p => p.Shared).ToList();
        HeadParameters = model.TrainableHead;
        _optimizer = new AdapterAdamW(LocalParameters, optimizer);
        var headWeights = HeadParameters.Where(p => !IsBias(p.Name)).ToList();
        var headBiases = HeadParameters.Where(p => IsBias(p.Name)).ToList();
        if (headWeights.Count > 0) _headOptimizers.Add(new AdapterAdamW(headWeights, optimizer));
        if (headBiases.Count > 0) _headOptimizers.Add(new AdapterAdamW(headBiases, optimizer with { WeightDecay = 0 }));
    }

    private static bool IsBias(string name) => name.EndsWith(".bias", StringComparison.Ordinal);

    /// <summary>
    /// Loads a stage's part of a Hugging Face checkpoint (Llama, GPT-2 or RoBERTa, by config.json's model_type; see
    /// <see cref="StageModels"/>) and creates its adapter bank (counter-seeded init). <paramref name="seed"/> also seeds
    /// a RoBERTa classifier the checkpoint lacks; <paramref name="labelSmoothing"/> applies to GPT-2 only.
    /// </summary>
    public static PipelineStage Load(string modelDirectory, int index, int firstLayer, int endLayer, bool isFirst, bool isLast,
        AdapterLayout layout, long seed, AdamWSettings optimizer, ScalarType dtype = ScalarType.Float32, string device = "cpu",
        double labelSmoothing = 0.0)
    {
        var model = StageModels.Load(modelDirectory, new ModelLoadOptions(firstLayer, endLayer, isFirst, isLast, dtype, device), seed, labelSmoothing);
        AdapterBank? bank = null;
        try
        {
            bank = AdapterBank.Create(layout, seed, firstLayer, endLayer, ScalarType.Float32, torch.device(device));
            return new PipelineStage(index, model, bank, optimizer);
        }
        catch
        {
            bank?.Dispose();
            model.Dispose();
            throw;
        }
    }

    public int Index { get; }
    public int FirstLayer => _model.FirstLayer;
    public int EndLayer => _model.EndLayer;
    public bool IsFirst => _model.HasEmbedding;
    public bool IsLast => _model.HasHead;
    /// <summary>The model part (a <see cref="LlamaStageModel"/>, <see cref="Gpt2StageModel"/> or <see cref="RobertaStageModel"/>).</summary>
    public IStageModel Model => _model;
    public AdapterBank Adapters => _bank;

    /// <summary>Head tensors this stage trains fully beside its adapters (RoBERTa's classifier on the last stage), by name
    /// ("head.classifier.dense.weight"); stepped by <see cref="StepLocal"/>, exported with the stage state.</summary>
    public IReadOnlyList<(string Name, Tensor Value)> HeadParameters { get; }

    /// <summary>This stage's own (per-layer) adapter tensors, stepped by <see cref="StepLocal"/>.</summary>
    public IReadOnlyList<AdapterParameter> LocalParameters { get; }

    /// <summary>This stage's replicas of the shared tensors (values set by <see cref="SetSharedValues"/>).</summary>
    public IReadOnlyList<AdapterParameter> SharedParameters { get; }

    /// <summary>Micro-batches forwarded whose backward has not run yet.</summary>
    public int InFlightCount => _inFlight.Count;

    /// <summary>
    /// Training forward of one micro-batch. <paramref name="input"/> is token ids [b, s] on the first stage, else the
    /// previous stage's activation [b, s, h] (made a leaf that requires grad, so <see cref="Backward"/> can return its
    /// gradient). The last stage needs <paramref name="labels"/> [b, s] (unshifted; -100 = no loss) and keeps
    /// sum(token CE) / <paramref name="lossDivisor"/> for backward, where the divisor is the whole step's target-token
    /// count (known from the data before any forward), so gradients add up to those of the step's mean loss.
    /// Dropout masks are a function of (seed, <paramref name="step"/>, <paramref name="microBatch"/>, layer, module).
    /// </summary>
    public StageForwardResult Forward(int step, int microBatch, Tensor input, Tensor attentionMask, Tensor? labels, double lossDivisor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_inFlight.ContainsKey(microBatch))
            throw new InvalidOperationException($"stage {Index}: micro-batch {microBatch} was forwarded twice without a backward");
        if (IsLast && labels is null) throw new ArgumentException($"stage {Index} is the last stage: labels are required");
        if (!(lossDivisor > 0)) throw new ArgumentOutOfRangeException(nameof(lossDivisor), $"loss divisor must be > 0 (got {lossDivisor})");

        _bank.Context = AdapterForwardContext.Train(step, microBatch);
        using var scope = NewDisposeScope();
        Tensor? leaf = null;
        Tensor hidden;
        if (IsFirst) hidden = _model.Embed(input);
        else hidden = leaf = AsLeaf(input);
        var output = _model.ForwardLayers(hidden, attentionMask, _bank);
        if (!IsLast)
        {
            var send = output.detach();
            _inFlight[microBatch] = new InFlight(leaf?.DetachFromDisposeScope(), output.DetachFromDisposeScope());
            return new StageForwardResult(send.MoveToOuterDisposeScope(), null, 0);
        }
        var (lossSum, targets) = _model.LossSum(output, labels!);
        using var divisor = lossDivisor.ToScalar();     // explicit Scalar kept alive: see AdapterDropout.KeepMask
        var scaled = lossSum.div(divisor);
        double sum = lossSum.detach().to_type(ScalarType.Float64).item<double>();
        _inFlight[microBatch] = new InFlight(leaf?.DetachFromDisposeScope(), scaled.DetachFromDisposeScope());
        return new StageForwardResult(null, sum, targets);
    }

    /// <summary>
    /// Backward of one forwarded micro-batch: from its kept loss on the last stage, else from
    /// <paramref name="outputGradient"/> (d loss / d this stage's activation, from the next stage). Accumulates into
    /// the adapter tensors' gradients, frees the micro-batch's graph, and returns d loss / d input activation for the
    /// previous stage (null on the first stage).
    /// </summary>
    public Tensor? Backward(int microBatch, Tensor? outputGradient)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_inFlight.Remove(microBatch, out var f))
            throw new InvalidOperationException($"stage {Index}: backward of micro-batch {microBatch}, which is not in flight");
        try
        {
            using var scope = NewDisposeScope();
            if (IsLast) f.Output.backward();
            else
            {
                if (outputGradient is null) throw new ArgumentException($"stage {Index}: backward of micro-batch {microBatch} needs the output gradient");
                if (!outputGradient.shape.SequenceEqual(f.Output.shape))
                    throw new ArgumentException($"stage {Index}: output gradient of micro-batch {microBatch} must be [{string.Join(", ", f.Output.shape)}] (got [{string.Join(", ", outputGradient.shape)}])");
                var g = outputGradient.dtype == f.Output.dtype && outputGradient.device == f.Output.device
                    ? outputGradient : outputGradient.to(f.Output.dtype, f.Output.device);
                f.Output.backward([g]);
            }
            if (f.Input is null) return null;
            var grad = f.Input.grad ?? throw new InvalidOperationException($"stage {Index}: input of micro-batch {microBatch} got no gradient");
            return grad.MoveToOuterDisposeScope();
        }
        finally
        {
            f.Output.Dispose();
            f.Input?.Dispose();
        }
    }

    /// <summary>
    /// Forward without gradients or dropout (evaluation): the activation to pass on, or on the last stage the summed
    /// loss (never label-smoothed) and the target-token count (and a sequence-level head's per-row predictions, <see cref="IStageModel.EvalHead"/>).
    /// </summary>
    public StageForwardResult ForwardEval(Tensor input, Tensor attentionMask, Tensor? labels)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsLast && labels is null) throw new ArgumentException($"stage {Index} is the last stage: labels are required");
        _bank.Context = AdapterForwardContext.Eval;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var hidden = IsFirst ? _model.Embed(input) : input.to_type(_model.DType);
        var output = _model.ForwardLayers(hidden, attentionMask, _bank);
        if (!IsLast) return new StageForwardResult(output.MoveToOuterDisposeScope(), null, 0);
        var (lossSum, targets, predictions) = _model.EvalHead(output, labels!);
        return new StageForwardResult(null, lossSum.to_type(ScalarType.Float64).item<double>(), targets, predictions);
    }

    // The received activation as this stage's graph input: same storage when the dtype already matches.
    private Tensor AsLeaf(Tensor input)
    {
        if (input.dim() != 3) throw new ArgumentException($"stage {Index}: input activation must be [batch, seq, hidden] (got [{string.Join(", ", input.shape)}])");
        var x = input.detach();
        if (x.dtype != _model.DType || x.device != _model.Device) x = x.to(_model.DType, _model.Device);
        return x.requires_grad_(true);
    }

    /// <summary>Copies of the accumulated gradients of the shared tensors, by name (zeros where none accumulated).</summary>
    public IReadOnlyDictionary<string, Tensor> SharedGradients()
    {
        var result = new Dictionary<string, Tensor>();
        using var noGrad = no_grad();
        foreach (var p in SharedParameters)
        {
            using var g = p.Value.grad;
            result[p.Name] = g is null ? zeros_like(p.Value) : g.detach().clone();
        }
        return result;
    }

    /// <summary>Sum of squares of this stage's per-layer adapter (and trainable head) gradients (float64); shared tensors are not included.</summary>
    public double LocalGradNormSquared()
    {
        var grads = LocalGrads();
        try { return GradientClipping.GlobalGradNormSquared(grads); }
        finally { foreach (var g in grads) g.Dispose(); }
    }

    /// <summary>Replaces this stage's replicas of the shared tensors (every shared name must be present).</summary>
    public void SetSharedValues(IReadOnlyDictionary<string, Tensor> values)
    {
        using var noGrad = no_grad();
        foreach (var p in SharedParameters)
        {
            if (!values.TryGetValue(p.Name, out var v)) throw new ArgumentException($"stage {Index}: no value for shared tensor '{p.Name}'");
            if (!v.shape.SequenceEqual(p.Value.shape))
                throw new ArgumentException($"stage {Index}: shared tensor '{p.Name}' must be [{string.Join(", ", p.Value.shape)}] (got [{string.Join(", ", v.shape)}])");
            p.Value.copy_(v);
        }
    }

    /// <summary>
    /// Scales the per-layer (and head) gradients by <paramref name="clipCoefficient"/> (the global one from the
    /// coordinator) and takes one AdamW step on the per-layer tensors and the trainable head at <paramref name="learningRate"/>.
    /// </summary>
    public void StepLocal(double learningRate, double clipCoefficient)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (clipCoefficient != 1.0)
        {
            var grads = LocalGrads();
            try { GradientClipping.Scale(grads, clipCoefficient); }
            finally { foreach (var g in grads) g.Dispose(); }
        }
        _optimizer.Step(learningRate);
        foreach (var o in _headOptimizers) o.Step(learningRate);
    }

    /// <summary>Zeroes every adapter gradient (shared replicas included) and the head's, ready for the next step.</summary>
    public void ZeroGrad()
    {
        _bank.ZeroGrad();
        foreach (var (_, value) in HeadParameters)
        {
            using var g = value.grad;
            g?.zero_();
        }
    }

    /// <summary>Copies of the per-layer adapter values (and the trainable head's) and their AdamW state. Call at a step boundary.</summary>
    public StageState ExportState()
    {
        if (_inFlight.Count > 0) throw new InvalidOperationException($"stage {Index}: state export with {_inFlight.Count} micro-batches in flight");
        using var noGrad = no_grad();
        var values = OwnTensors().ToDictionary(p => p.Name, p =>
        {
            using var detached = p.Value.detach(); // freed here: a leaked handle per tensor per checkpoint otherwise
            return detached.clone();
        });
        var optimizer = new Dictionary<string, AdamWParameterState>(_optimizer.ExportState());
        foreach (var o in _headOptimizers)
            foreach (var (name, state) in o.ExportState()) optimizer[name] = state;
        return new StageState(values, optimizer);
    }

    // Everything this stage steps itself: per-layer adapter tensors, then the trainable head.
    private IEnumerable<(string Name, Tensor Value)> OwnTensors() =>
        LocalParameters.Select(p => (p.Name, p.Value)).Concat(HeadParameters);

    /// <summary>Restores per-layer values (and the trainable head's) and AdamW state exported by a stage over the same layers.</summary>
    public void ImportState(StageState state, string source = "stage state")
    {
        var own = OwnTensors().ToList();
        var names = own.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in state.Values.Keys)
            if (!names.Contains(name)) throw new ArgumentException($"{source}: tensor '{name}' does not belong to stage {Index}");
        foreach (var name in state.Optimizer.Keys)
            if (!names.Contains(name)) throw new ArgumentException($"{source}: optimizer state for '{name}', which does not belong to stage {Index}");
        using (no_grad())
        {
            foreach (var (name, value) in own)
            {
                if (!state.Values.TryGetValue(name, out var v)) throw new ArgumentException($"{source}: missing tensor '{name}'");
                if (!v.shape.SequenceEqual(value.shape))
                    throw new ArgumentException($"{source}: tensor '{name}' must be [{string.Join(", ", value.shape)}] (got [{string.Join(", ", v.shape)}])");
            }
            foreach (var (name, value) in own) value.copy_(state.Values[name]);
        }
        // Each optimizer checks that the state covers exactly its own tensors.
        foreach (var o in _headOptimizers.Prepend(_optimizer))
        {
            var mine = o.Names.ToHashSet(StringComparer.Ordinal);
            o.ImportState(state.Optimizer.Where(kv => mine.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value), source);
        }
    }

    private List<Tensor> LocalGrads()
    {
        var grads = new List<Tensor>();
        foreach (var (_, value) in OwnTensors())
            if (value.grad is { } g) grads.Add(g);
        return grads;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var f in _inFlight.Values) { f.Output.Dispose(); f.Input?.Dispose(); }
        _inFlight.Clear();
        _optimizer.Dispose();
        foreach (var o in _headOptimizers) o.Dispose();
        _bank.Dispose();
        _model.Dispose();
    }
}
