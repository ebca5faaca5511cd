using System.Diagnostics;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Gpt2;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Optimization;
using ShareLoRA.Training.Tasks.E2e;
using static TorchSharp.torch;

namespace ShareLoRA.Training.SmallSystems;

/// <summary>
/// Single-process E2E NLG fine-tuning of <see cref="Gpt2Model"/> as the LoRA repo's gpt2_ft.py: LoRA/ShareLoRA on q and
/// v of c_attn, the repo's sequence layout (<see cref="E2eSequenceEncoder"/>), label-smoothed loss on completion tokens
/// (<see cref="LabelSmoothedLoss"/>), AdamW with a linear schedule and warm-up steps. Validation loss is plain
/// (unsmoothed) masked cross-entropy, as the repo's evaluate().
/// </summary>
public sealed class E2eTrainer : IDisposable
{
    public static readonly IReadOnlyList<TargetModule> Targets = [TargetModule.Q, TargetModule.V];

    private readonly Gpt2Model _model;
    private readonly E2eTrainingOptions _options;
    private readonly ParameterGroupAdamW _optimizer = new();

    public AdapterBank Bank { get; }
    public E2eSequenceEncoder Encoder { get; }

    public E2eTrainer(Gpt2Model model, ITextTokenizer tokenizer, E2eTrainingOptions options)
    {
        if (!model.HasEmbedding || !model.HasHead || model.FirstLayer != 0 || model.EndLayer != model.Config.NumLayers)
            throw new ArgumentException("E2E training needs the whole GPT-2 model (embedding, all layers, head)");
        _model = model;
        _options = options;
        int eos = tokenizer.EosId ?? model.Config.EosTokenId ?? throw new ArgumentException("GPT-2 tokenizer has no end-of-text token");
        Encoder = new E2eSequenceEncoder(tokenizer, eos);
        model.Freeze();
        var h = options.Hyper;
        var layout = AdapterLayout.ForMethod(options.Method.Name(), model.Config.NumLayers, Gpt2Model.AdapterDims(model.Config),
            Targets, h.Rank, h.Alpha, h.Dropout);
        Bank = AdapterBank.Create(layout, options.Seed);
        _optimizer.AddGroup("adapter", Bank.Parameters.Select(p => (p.Name, p.Value)), new AdamWSettings(h.LearningRate, WeightDecay: h.WeightDecay));
    }

    private int MaxLength => Math.Min(_options.Hyper.MaxSeqLen, _model.Config.MaxPositions);

    public int TotalSteps(int pairCount) => _options.Steps
        ?? (pairCount + _options.Hyper.BatchSize - 1) / _options.Hyper.BatchSize * (_options.Epochs ?? _options.Hyper.Epochs);

    public E2eTrainingResult Train(IReadOnlyList<E2eTrainingPair> train, IReadOnlyList<E2eTrainingPair> valid, MetricsWriter? metrics = null,
        Action<string>? log = null)
    {
        if (train.Count == 0) throw new ArgumentException("E2E training set is empty");
        var h = _options.Hyper;
        var encoded = train.Select(p => Encoder.Encode(p, MaxLength)).ToArray();
        int total = TotalSteps(train.Count);
        var schedule = new LearningRateSchedule(LearningRateScheduleKind.Linear, h.LearningRate, Math.Min(h.WarmupSteps, total), total);
        var losses = new List<double>();
        var validLosses = new List<(int, double)>();
        var clock = Stopwatch.StartNew();
        int step = 0;
        for (int epoch = 0; step < total; epoch++)
        {
            var order = ShuffledOrder.Of(train.Count, _options.Seed, epoch);
            for (int start = 0; start < order.Length && step < total; start += h.BatchSize)
            {
                var rows = order.Skip(start).Take(h.BatchSize).Select(r => encoded[r]).ToList();
                var stepClock = Stopwatch.StartNew();
                double lr = schedule.At(step), loss;
                using (var scope = NewDisposeScope())
                {
                    Bank.Context = AdapterForwardContext.Train(step, 0);
                    var lossTensor = BatchLoss(rows, h.LabelSmoothing);
                    lossTensor.backward();
                    loss = lossTensor.item<float>();
                }
                double norm = _optimizer.ClipGradients(h.MaxGradNorm);
                _optimizer.Step(lr);
                _optimizer.ZeroGrad();
                Bank.Context = AdapterForwardContext.Eval;
                step++;
                losses.Add(loss);
                long tokens = rows.Sum(r => (long)r.Ids.Length);
                bool epochEnd = start + h.BatchSize >= order.Length;
                double? validLoss = null;
                if (valid.Count > 0 && ((_options.EvalEvery > 0 ? step % _options.EvalEvery == 0 : epochEnd) || step == total))
                {
                    validLoss = ValidationLoss(valid);
                    validLosses.Add((step, validLoss.Value));
                    log?.Invoke($"step {step}: valid loss {validLoss:F4}");
                }
                metrics?.Write(new StepMetrics(step, loss, lr, norm, ClipCoefficient: null, Tokens: tokens, TargetTokens: null,
                    TokensPerSecond: tokens / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds), WallSeconds: clock.Elapsed.TotalSeconds, EvalLoss: validLoss));
            }
        }
        return new E2eTrainingResult(losses, validLosses, step);
    }

    /// <summary>Mean unsmoothed completion loss over <paramref name="pairs"/> (token-weighted), adapters in eval mode.</summary>
    public double ValidationLoss(IReadOnlyList<E2eTrainingPair> pairs)
    {
        Bank.Context = AdapterForwardContext.Eval;
        using var noGrad = no_grad();
        double sum = 0, count = 0;
        foreach (var chunk in pairs.Select(p => Encoder.Encode(p, MaxLength)).Chunk(_options.Hyper.BatchSize))
        {
            using var scope = NewDisposeScope();
            double n = chunk.Sum(r => (double)(r.Ids.Length - r.QueryLength));
            sum += BatchLoss(chunk, 0).item<float>() * n;
            count += n;
        }
        return count > 0 ? sum / count : double.NaN;
    }

    /// <summary>The repo's loss of one batch (right-padded with EOS, masked).</summary>
    public Tensor BatchLoss(IReadOnlyList<(int[] Ids, int QueryLength)> rows, double smoothing)
    {
        using var scope = NewDisposeScope();
        int width = rows.Max(r => r.Ids.Length);
        var ids = new long[rows.Count * width];
        var targets = new long[rows.Count * width];
        var lossMask = new float[rows.Count * width];
        var attention = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
        {
            var (row, q) = rows[r];
            for (int c = 0; c < width; c++)
            {
                int at = r * width + c;
                ids[at] = c < row.Length ? row[c] : Encoder.EosId;
                attention[at] = c < row.Length ? 1 : 0;
                targets[at] = c + 1 < row.Length ? row[c + 1] : 0;
                lossMask[at] = c >= q - 1 && c + 1 < row.Length ? 1f : 0f;
            }
        }
        var input = tensor(ids).view(rows.Count, width);
        var logits = _model.Forward(input, 0, null, Bank, tensor(attention).view(rows.Count, width));
        return LabelSmoothedLoss.Compute(logits, tensor(targets).view(rows.Count, width), tensor(lossMask).view(rows.Count, width), smoothing)
            .MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Writes the adapter into <paramref name="dir"/>: native adapter.safetensors, and when
    /// <paramref name="baseModelNameOrPath"/> is given also the PEFT pair (see <see cref="Gpt2AdapterExport"/>).
    /// </summary>
    public void Save(string dir, string? baseModelNameOrPath = null)
    {
        if (baseModelNameOrPath is not null)
        {
            Gpt2AdapterExport.Save(Bank, dir, baseModelNameOrPath);
            return;
        }
        Directory.CreateDirectory(dir);
        NativeAdapterFormat.Save(Bank, Path.Combine(dir, NativeAdapterFormat.FileName));
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        Bank.Dispose();
    }
}
