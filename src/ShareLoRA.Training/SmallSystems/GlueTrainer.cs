using System.Diagnostics;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Roberta;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Optimization;
using ShareLoRA.Training.Tasks.Glue;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// Single-process GLUE fine-tuning of <see cref="RobertaModel"/> as in the LoRA repo's examples/NLU: LoRA or ShareLoRA
/// on query and value (fp32 master weights in an <see cref="AdapterBank"/>), the classification head trained fully in
/// fp32 in the same AdamW as its own parameter groups (never shared), linear schedule with warm-up, global-norm
/// clipping, dev evaluation with <see cref="GlueMetrics"/> every epoch or every N steps.
/// </summary>
public sealed class GlueTrainer : IDisposable
{
    private readonly RobertaModel _model;
    private readonly GlueInputEncoder _encoder;
    private readonly GlueTrainingOptions _options;
    private readonly ParameterGroupAdamW _optimizer = new();
    // Dev sets are evaluated many times; tokenizing once saves most of an evaluation's time on small models.
    private readonly Dictionary<GlueExample, int[]> _encoded = new(ReferenceEqualityComparer.Instance);

    /// <summary>The adapters being trained (owned by the trainer).</summary>
    public AdapterBank Bank { get; }

    public RobertaModel Model => _model;

    /// <summary>Targets of the paper's GLUE runs.</summary>
    public static readonly IReadOnlyList<TargetModule> Targets = [TargetModule.Q, TargetModule.V];

    public GlueTrainer(RobertaModel model, ITextTokenizer tokenizer, GlueTrainingOptions options)
    {
        if (!model.HasEmbedding || !model.HasHead || model.FirstLayer != 0 || model.EndLayer != model.Config.NumLayers)
            throw new ArgumentException("GLUE training needs the whole RoBERTa model (embeddings, all layers, head)");
        if (model.Config.NumLabels != options.Task.OutputCount)
            throw new ArgumentException($"model has num_labels {model.Config.NumLabels} but {options.Task.Name} needs {options.Task.OutputCount}");
        _model = model;
        _options = options;
        _encoder = new GlueInputEncoder(tokenizer, Math.Min(options.Hyper.MaxSeqLen, model.Config.MaxPositions - model.Config.PadTokenId - 1));
        model.Freeze();
        var h = options.Hyper;
        var layout = AdapterLayout.ForMethod(options.Method.Name(), model.Config.NumLayers, RobertaModel.AdapterDims(model.Config),
            Targets, h.Rank, h.Alpha, h.Dropout);
        Bank = AdapterBank.Create(layout, options.Seed);
        var decay = new AdamWSettings(h.LearningRate, WeightDecay: h.WeightDecay);
        var noDecay = decay with { WeightDecay = 0 };
        _optimizer.AddGroup("adapter", Bank.Parameters.Select(p => (p.Name, p.Value)), decay);
        var head = model.HeadParameters().ToList();
        _optimizer.AddGroup("head", head.Where(p => !p.Key.EndsWith(".bias", StringComparison.Ordinal)).Select(p => (p.Key, (Tensor)p.Value)), decay);
        _optimizer.AddGroup("head_no_decay", head.Where(p => p.Key.EndsWith(".bias", StringComparison.Ordinal)).Select(p => (p.Key, (Tensor)p.Value)), noDecay);
    }

    /// <summary>Optimizer steps for <paramref name="trainCount"/> examples: Steps, else epochs x ceil(n / batch).</summary>
    public int TotalSteps(int trainCount)
    {
        if (_options.Steps is { } s) return s;
        int perEpoch = (trainCount + _options.Hyper.BatchSize - 1) / _options.Hyper.BatchSize;
        return perEpoch * (_options.Epochs ?? _options.Hyper.Epochs);
    }

    /// <summary>Trains on <paramref name="train"/>, evaluating on <paramref name="dev"/>; writes metrics when a writer is given.</summary>
    public GlueTrainingResult Train(IReadOnlyList<GlueExample> train, IReadOnlyList<GlueExample> dev, MetricsWriter? metrics = null,
        Action<string>? log = null)
    {
        if (train.Count == 0) throw new ArgumentException("GLUE training set is empty");
        var h = _options.Hyper;
        var encoded = train.Select(Encode).ToArray();
        int total = TotalSteps(train.Count);
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.Linear, h.LearningRate,
            LearningRateSchedule.WarmupStepsFor(total, h.WarmupRatio), total);
        int perEpoch = (train.Count + h.BatchSize - 1) / h.BatchSize;
        var losses = new List<double>();
        var evaluations = new List<GlueEvaluation>();
        var clock = Stopwatch.StartNew();

        void Eval(int step, int epoch)
        {
            var score = Evaluate(dev);
            evaluations.Add(new GlueEvaluation(step, epoch, score));
            metrics?.WriteEvent("eval", step, clock.Elapsed.TotalSeconds, score.Metrics.ToDictionary(kv => "dev_" + kv.Key, kv => (object?)kv.Value));
            log?.Invoke($"step {step} epoch {epoch}: dev {score.Reported} {score.ReportedValue:F4}");
        }

        if (_options.EvaluateAtStart && dev.Count > 0) Eval(0, 0);
        int step = 0;
        for (int epoch = 0; step < total; epoch++)
        {
            var order = ShuffledOrder.Of(train.Count, _options.Seed, epoch);
            for (int start = 0; start < order.Length && step < total; start += h.BatchSize)
            {
                var rows = order.Skip(start).Take(h.BatchSize).ToArray();
                var stepClock = Stopwatch.StartNew();
                double lr = schedule.At(step);
                double loss, norm;
                long tokens = rows.Sum(r => (long)encoded[r].Length);
                using (var scope = NewDisposeScope())
                {
                    var (ids, mask) = Pad(rows.Select(r => encoded[r]).ToList());
                    var labels = Labels(rows.Select(r => train[r]).ToList());
                    Bank.Context = AdapterForwardContext.Train(step, 0);
                    var logits = _model.Forward(ids, mask, null, Bank);
                    var lossTensor = RobertaModel.Loss(logits, labels, _options.Task.OutputCount);
                    lossTensor.backward();
                    loss = lossTensor.item<float>();
                }
                norm = _optimizer.ClipGradients(h.MaxGradNorm);
                _optimizer.Step(lr);
                _optimizer.ZeroGrad();
                Bank.Context = AdapterForwardContext.Eval;
                step++;
                losses.Add(loss);
                metrics?.Write(new StepMetrics(step, loss, lr, norm, ClipCoefficient: null, Tokens: tokens, TargetTokens: null,
                    TokensPerSecond: tokens / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds), WallSeconds: clock.Elapsed.TotalSeconds));
                bool epochEnd = start + h.BatchSize >= order.Length;
                if (dev.Count > 0 && (_options.EvalEvery > 0 ? step % _options.EvalEvery == 0 : epochEnd) && step < total) Eval(step, epoch + 1);
            }
            if (perEpoch == 0) break;
        }
        if (dev.Count > 0 && (evaluations.Count == 0 || evaluations[^1].Step != step)) Eval(step, (step + perEpoch - 1) / perEpoch);
        return new GlueTrainingResult(losses, evaluations, step);
    }

    /// <summary>GLUE metrics of the current model on <paramref name="examples"/> (adapters in eval mode, no dropout).</summary>
    public GlueScore Evaluate(IReadOnlyList<GlueExample> examples)
    {
        Bank.Context = AdapterForwardContext.Eval;
        var predictions = new List<int>();
        var values = new List<double>();
        using var noGrad = no_grad();
        for (int start = 0; start < examples.Count; start += _options.EvalBatchSize)
        {
            using var scope = NewDisposeScope();
            var batch = examples.Skip(start).Take(_options.EvalBatchSize).ToList();
            var (ids, mask) = Pad(batch.Select(Encode).ToList());
            var logits = _model.Forward(ids, mask, null, Bank);
            if (_options.Task.IsRegression)
                values.AddRange(logits.view(-1).to_type(ScalarType.Float64).data<double>().ToArray());
            else
                predictions.AddRange(logits.argmax(1).data<long>().ToArray().Select(x => (int)x));
        }
        return _options.Task.IsRegression
            ? GlueMetrics.Regression(values, examples.Select(e => e.Score).ToList())
            : GlueMetrics.Classification(_options.Task.Task, predictions, examples.Select(e => e.Label).ToList());
    }

    /// <summary>Writes the adapter (native + PEFT with the classifier as modules_to_save) into <paramref name="dir"/>.</summary>
    public void Save(string dir, string baseModelNameOrPath) => RobertaAdapterExport.Save(Bank, _model, dir, baseModelNameOrPath, _options.Task);

    private int[] Encode(GlueExample example)
    {
        if (!_encoded.TryGetValue(example, out var ids)) _encoded[example] = ids = _encoder.Encode(example);
        return ids;
    }

    private (Tensor Ids, Tensor Mask) Pad(IReadOnlyList<int[]> rows)
    {
        int width = rows.Max(r => r.Length);
        var ids = new long[rows.Count * width];
        var mask = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < width; c++)
            {
                bool real = c < rows[r].Length;
                ids[r * width + c] = real ? rows[r][c] : _encoder.PadId;
                mask[r * width + c] = real ? 1 : 0;
            }
        return (tensor(ids).view(rows.Count, width), tensor(mask).view(rows.Count, width));
    }

    private Tensor Labels(IReadOnlyList<GlueExample> rows) => _options.Task.IsRegression
        ? tensor(rows.Select(e => (float)e.Score).ToArray())
        : tensor(rows.Select(e => (long)e.Label).ToArray());

    public void Dispose()
    {
        _optimizer.Dispose();
        Bank.Dispose();
    }
}
