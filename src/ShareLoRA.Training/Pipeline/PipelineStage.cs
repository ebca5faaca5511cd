using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Llama;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Pipeline;

/// <summary>
/// One pipeline stage's share of a training step, as a plain object: a <see cref="LlamaModel"/> built for layers
/// [FirstLayer, EndLayer) (plus the embedding on the first stage and the head and loss on the last) and an
/// <see cref="AdapterBank"/> for the same layers holding a replica of the shared tensors. It runs forward and backward
/// of single micro-batches in whatever order a schedule dictates, keeping each micro-batch's autograd graph between
/// the two; accumulates adapter gradients over the step; reports the partial gradients of the shared tensors and the
/// squared norm of its own; and steps its per-layer tensors with its own AdamW. The single-process trainer and the
/// stage actors drive the same object.
/// </summary>
/// <remarks>
/// Call every method from one thread (TorchSharp dispose scopes are thread-static). Tensors passed in stay the
/// caller's; tensors returned are the caller's to dispose (they join the caller's dispose scope when it has one).
/// </remarks>
public sealed class PipelineStage : IDisposable
{
    private readonly LlamaModel _model;
    private readonly AdapterBank _bank;
    private readonly AdapterAdamW _optimizer;
    private readonly Dictionary<int, InFlight> _inFlight = [];
    private bool _disposed;

    /// <summary>The graph ends of one forwarded micro-batch: the input leaf (not on the first stage) and the output
    /// activation, or the scaled loss on the last stage.</summary>
    private sealed record InFlight(Tensor? Input, Tensor Output);

    /// <summary>Takes ownership of <paramref name="model"/> and <paramref name="bank"/>; their layer ranges must agree.</summary>
    public PipelineStage(int index, LlamaModel model, AdapterBank bank, AdamWSettings optimizer)
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
        _optimizer = new AdapterAdamW(LocalParameters, optimizer);
    }

    /// <summary>Loads a stage's part of a Hugging Face checkpoint and creates its adapter bank (counter-seeded init).</summary>
    public static PipelineStage Load(string modelDirectory, int index, int firstLayer, int endLayer, bool isFirst, bool isLast,
        AdapterLayout layout, long seed, AdamWSettings optimizer, ScalarType dtype = ScalarType.Float32, string device = "cpu")
    {
        var model = LlamaModel.Load(modelDirectory, new ModelLoadOptions(firstLayer, endLayer, isFirst, isLast, dtype, device));
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
    public LlamaModel Model => _model;
    public AdapterBank Adapters => _bank;

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
        var output = _model.ForwardLayers(hidden, 0, null, _bank, attentionMask);
        if (!IsLast)
        {
            var send = output.detach();
            _inFlight[microBatch] = new InFlight(leaf?.DetachFromDisposeScope(), output.DetachFromDisposeScope());
            return new StageForwardResult(send.MoveToOuterDisposeScope(), null, 0);
        }
        var (lossSum, targets) = TokenLossSum(output, labels!);
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
    /// token CE and the target-token count.
    /// </summary>
    public StageForwardResult ForwardEval(Tensor input, Tensor attentionMask, Tensor? labels)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsLast && labels is null) throw new ArgumentException($"stage {Index} is the last stage: labels are required");
        _bank.Context = AdapterForwardContext.Eval;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var hidden = IsFirst ? _model.Embed(input) : input.to_type(_model.DType);
        var output = _model.ForwardLayers(hidden, 0, null, _bank, attentionMask);
        if (!IsLast) return new StageForwardResult(output.MoveToOuterDisposeScope(), null, 0);
        var (lossSum, targets) = TokenLossSum(output, labels!);
        return new StageForwardResult(null, lossSum.to_type(ScalarType.Float64).item<double>(), targets);
    }

    // The received activation as this stage's graph input: same storage when the dtype already matches.
    private Tensor AsLeaf(Tensor input)
    {
        if (input.dim() != 3) throw new ArgumentException($"stage {Index}: input activation must be [batch, seq, hidden] (got [{string.Join(", ", input.shape)}])");
        var x = input.detach();
        if (x.dtype != _model.DType || x.device != _model.Device) x = x.to(_model.DType, _model.Device);
        return x.requires_grad_(true);
    }

    // Sum over positions i < s-1 of CE(logits[i], labels[i+1]), skipping label -100; computed in fp32.
    private (Tensor LossSum, long Targets) TokenLossSum(Tensor hidden, Tensor labels)
    {
        var logits = _model.Logits(hidden);                                   // [b, s, V]
        long s = logits.shape[1], vocab = logits.shape[2];
        var predicting = logits.narrow(1, 0, s - 1).reshape(-1, vocab);        // [b*(s-1), V]
        if (predicting.dtype != ScalarType.Float32 && predicting.dtype != ScalarType.Float64)
            predicting = predicting.to_type(ScalarType.Float32);
        var next = labels.to(ScalarType.Int64, logits.device).narrow(1, 1, s - 1).reshape(-1);  // [b*(s-1)]
        var loss = nn.functional.cross_entropy(predicting, next, ignore_index: -100, reduction: nn.Reduction.Sum);
        using var ignore = (-100).ToScalar();
        long targets = next.ne(ignore).sum().item<long>();
        return (loss, targets);
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

    /// <summary>Sum of squares of this stage's per-layer adapter gradients (float64); shared tensors are not included.</summary>
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
    /// Scales the per-layer gradients by <paramref name="clipCoefficient"/> (the global one from the coordinator) and
    /// takes one AdamW step on the per-layer tensors at <paramref name="learningRate"/>.
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
    }

    /// <summary>Zeroes every adapter gradient (shared replicas included), ready for the next step.</summary>
    public void ZeroGrad() => _bank.ZeroGrad();

    /// <summary>Copies of the per-layer adapter values and their AdamW state. Call at a step boundary.</summary>
    public StageState ExportState()
    {
        if (_inFlight.Count > 0) throw new InvalidOperationException($"stage {Index}: state export with {_inFlight.Count} micro-batches in flight");
        using var noGrad = no_grad();
        var values = LocalParameters.ToDictionary(p => p.Name, p =>
        {
            using var detached = p.Value.detach(); // freed here: a leaked handle per tensor per checkpoint otherwise
            return detached.clone();
        });
        return new StageState(values, _optimizer.ExportState());
    }

    /// <summary>Restores per-layer values and AdamW state exported by a stage over the same layers.</summary>
    public void ImportState(StageState state, string source = "stage state")
    {
        foreach (var name in state.Values.Keys)
            if (!LocalParameters.Any(p => p.Name == name)) throw new ArgumentException($"{source}: tensor '{name}' does not belong to stage {Index}");
        using (no_grad())
        {
            foreach (var p in LocalParameters)
            {
                if (!state.Values.TryGetValue(p.Name, out var v)) throw new ArgumentException($"{source}: missing tensor '{p.Name}'");
                if (!v.shape.SequenceEqual(p.Value.shape))
                    throw new ArgumentException($"{source}: tensor '{p.Name}' must be [{string.Join(", ", p.Value.shape)}] (got [{string.Join(", ", v.shape)}])");
            }
            foreach (var p in LocalParameters) p.Value.copy_(state.Values[p.Name]);
        }
        _optimizer.ImportState(state.Optimizer, source);
    }

    private List<Tensor> LocalGrads()
    {
        var grads = new List<Tensor>();
        foreach (var p in LocalParameters)
            if (p.Value.grad is { } g) grads.Add(g);
        return grads;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var f in _inFlight.Values) { f.Output.Dispose(); f.Input?.Dispose(); }
        _inFlight.Clear();
        _optimizer.Dispose();
        _bank.Dispose();
        _model.Dispose();
    }
}
