using System.Diagnostics;
using System.Globalization;
using ShareLoRA.Model;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Optimization;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Planning;
using ShareLoRA.Training.SmallSystems;
using ShareLoRA.Training.Tasks.E2e;
using ShareLoRA.Training.Tasks.Glue;
using Serilog;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Training.Trainer;

/// <summary>
/// The single-process reference trainer: the job's P pipeline stages as <see cref="PipelineStage"/> objects in this
/// process (layer ranges from the <see cref="PartitionPlanner"/>), each optimizer step run through the job's GPipe or
/// 1F1B schedule by <see cref="LocalScheduleExecutor"/>, then the shared tensors stepped by a
/// <see cref="SharedParameterServer"/> and every stage's own tensors by the stage, with the same global clip
/// coefficient. It is what a distributed run is compared against: the same numbers for any P (within float
/// tolerance) and bitwise-equal runs for the same P. Use from one thread.
/// </summary>
public sealed class LocalPipelineTrainer : IDisposable
{
    public const string AdapterFolder = "adapter";
    public const string JobFileName = "job.json";

    private readonly List<PipelineStage> _stages = [];
    private readonly SharedParameterServer _server;
    private readonly DataLoader _loader;
    private readonly LearningRateSchedule _learningRate;
    private readonly PipelineSchedule _schedule;
    private readonly Device _device;
    private readonly int _padId;
    private readonly ILogger _log;
    private readonly Stopwatch _wall = new();
    private DataCursor _cursor = DataCursor.Start;
    private double _wallOffset;
    private RestoredFrom? _restoredFrom;

    /// <summary>The checkpoint this trainer continues, as <see cref="Restore"/> recorded it.</summary>
    private sealed record RestoredFrom(long Step, string Name, CheckpointPlan Plan);

    public JobConfig Job { get; }
    public TrainingData Data { get; }
    /// <summary>The base model's shape and family (Llama or GPT-2).</summary>
    public ModelShape ModelShape { get; }
    public AdapterLayout Layout { get; }
    public PartitionPlan Plan { get; }
    public IReadOnlyList<PipelineStage> Stages => _stages;

    /// <summary>Optimizer steps done so far.</summary>
    public int StepsDone { get; private set; }

    /// <summary>
    /// The job's tokenized data: GLUE TSVs for a job with a GLUE task (<see cref="GlueJobData"/>), E2E NLG pairs for an E2E
    /// task (<see cref="E2eJobData"/>), else text/instruction
    /// data (<see cref="TrainingData.Prepare"/>). The local trainer and the cluster coordinator both prepare it here.
    /// </summary>
    public static TrainingData PrepareData(JobConfig job, ITextTokenizer tokenizer) => job.Task?.Kind switch
    {
        null => TrainingData.Prepare(job.Data, tokenizer, job.Seed),
        TaskConfig.Glue => GlueJobData.Prepare(job, tokenizer),
        TaskConfig.E2e => E2eJobData.Prepare(job, tokenizer),
        var kind => throw new JobConfigException($"{JobSource(job)}: unknown task.kind \"{kind}\""),
    };

    /// <summary>
    /// Builds the stages for <paramref name="job"/> on already prepared data (tests pass token ids directly).
    /// Fails with a <see cref="JobConfigException"/> when the job does not fit the model.
    /// </summary>
    public LocalPipelineTrainer(JobConfig job, TrainingData data, int padId, ILogger? log = null)
    {
        Job = job;
        Data = data;
        _padId = padId;
        _log = log ?? Serilog.Core.Logger.None;
        (ModelShape, Layout) = ResolveModelShape(job);
        if (data.Train.Count == 0) throw new DatasetException($"{job.Data.Train}: no training examples");
        Job = job = JobSteps.Resolve(job, data.Train.Count, _log);

        Plan = PlanOf(job, ModelShape);
        _schedule = Plan.Schedule;
        _learningRate = ScheduleOf(job);
        _device = torch.device(job.Device);
        _loader = new DataLoader(data.Train, job.Batch.MicroBatchSize, padId, (ulong)job.Seed, job.Data.Shuffle, job.Data.GroupByLength);

        var optimizer = new AdamWSettings(job.Optim.Lr, job.Optim.Betas.Beta1, job.Optim.Betas.Beta2, job.Optim.Eps, job.Optim.WeightDecay);
        try
        {
            foreach (var s in Plan.Stages)
                _stages.Add(PipelineStage.Load(job.Model, s.Index, s.FirstLayer, s.EndLayer, s.HasEmbedding, s.HasHead,
                    Layout, job.Seed, optimizer, ScalarTypeOf(job.Dtype), job.Device, LabelSmoothingOf(job)));
            // Every bank draws the same shared init (counter-seeded by layer 0), so any stage's copy seeds the masters.
            _server = SharedParameterServer.FromBank(_stages[0].Adapters, optimizer);
        }
        catch
        {
            foreach (var s in _stages) s.Dispose();
            throw;
        }
        _log.Information("model {Model} ({Family}): {Layers} layers, hidden {Hidden}; adapter {Method} r={Rank} alpha={Alpha} on {Targets}: {Trainable} trainable parameters",
            job.Model, ModelShape.Family.Name(), ModelShape.NumLayers, ModelShape.HiddenSize, Layout.MethodName, Layout.Rank, Layout.Alpha,
            string.Join(",", Layout.OrderedTargets.Select(t => t.ShortName())), Layout.TrainableParameterCount);
        _log.Information("plan: {Plan}", Plan.ToString());
    }

    /// <summary>Loads the tokenizer and data of <paramref name="job"/>, then builds the trainer. Job/model mismatches fail before the data is read.</summary>
    public static LocalPipelineTrainer Create(JobConfig job, ILogger? log = null)
    {
        log ??= Serilog.Core.Logger.None;
        ResolveModelShape(job);
        using var tokenizer = HfTokenizer.Load(job.Model);
        var data = PrepareData(job, tokenizer);
        log.Information("{Report}", data.Report.ToString());
        return new LocalPipelineTrainer(job, data, BatchCollator.PadIdOf(tokenizer), log);
    }

    /// <summary>
    /// The whole run: run log (OUTPUT/train.log, and <paramref name="console"/> when given), OUTPUT/job.json, training
    /// with metrics.jsonl, and OUTPUT/adapter/. <paramref name="onStep"/> sees every step's metrics (the CLI shows them).
    /// </summary>
    /// <param name="job">The job.</param>
    /// <param name="console">Where Information-level log lines go besides train.log (the CLI's progress display), or null.</param>
    /// <param name="onStep">Sees every step's metrics.</param>
    /// <param name="stopAfter">Stop (with a checkpoint) after this many steps; the LR schedule still spans job.steps.</param>
    /// <param name="overwrite">Delete OUTPUT/checkpoints of an earlier run first instead of refusing to start.</param>
    /// <param name="onStart">Sees the job once its data is prepared, with "epochs" resolved to steps, before the first step.</param>
    public static TrainingResult Run(JobConfig job, TextWriter? console = null, Action<StepMetrics>? onStep = null, int? stopAfter = null,
        bool overwrite = false, Action<JobConfig>? onStart = null)
    {
        var checkpoints = new CheckpointStore(job.Output, job.Checkpoint.Keep, Serilog.Core.Logger.None);
        if (!overwrite) RefuseExistingCheckpoints(checkpoints);
        else if (Directory.Exists(checkpoints.CheckpointsDirectory)) Directory.Delete(checkpoints.CheckpointsDirectory, recursive: true);
        using var log = RunLog.Create(job.Output, console);
        try
        {
            if (job.Epochs is { } epochs) // resolved to steps once the data is prepared (Create)
                log.Information("job {Name}: {Epochs} epochs of {Micro} x {Size} sequences, {Stages} stage(s), {Schedule}, output {Output}",
                    job.Name, epochs, job.Batch.MicroBatches, job.Batch.MicroBatchSize, job.Pipeline.Stages, job.Pipeline.Schedule, job.Output);
            else
                log.Information("job {Name}: {Steps} steps of {Micro} x {Size} sequences, {Stages} stage(s), {Schedule}, output {Output}",
                    job.Name, job.Steps, job.Batch.MicroBatches, job.Batch.MicroBatchSize, job.Pipeline.Stages, job.Pipeline.Schedule, job.Output);
            using var trainer = Create(job, log);
            onStart?.Invoke(trainer.Job);
            var result = trainer.Train(onStep, stopAfter);
            log.Information("done: {Steps} steps in {Seconds:0.0} s, final loss {Loss:0.0000}{Eval}; adapter in {Adapter}",
                result.Steps.Count, result.Steps.Count > 0 ? result.Steps[^1].WallSeconds : 0.0,
                result.Steps.Count > 0 ? result.Steps[^1].Loss : double.NaN,
                result.FinalEvalLoss is { } e ? $", eval loss {result.InitialEvalLoss:0.0000} -> {e:0.0000}"
                    + (result.FinalEvalMetrics is { } fm ? $" ({fm.Describe()})" : "") : "", result.AdapterDirectory);
            return result;
        }
        catch (Exception e)
        {
            log.Error(e, "training failed: {Message}", e.Message);
            throw;
        }
    }

    /// <summary>
    /// Resumes the run in <paramref name="runDirectory"/>: reads its job.json (with <paramref name="overrides"/>, e.g.
    /// pipeline.stages=3 to re-partition), loads the newest valid checkpoint (a corrupt newer one is skipped with a log
    /// line and left in place), rewinds metrics.jsonl to it and trains on to the job's steps.
    /// </summary>
    /// <exception cref="CheckpointException">No valid checkpoint, or the job changed in a way that changes the trajectory.</exception>
    public static TrainingResult Resume(string runDirectory, IEnumerable<string>? overrides = null, TextWriter? console = null,
        Action<StepMetrics>? onStep = null, int? stopAfter = null)
    {
        var job = LoadRunJob(runDirectory, overrides);
        using var log = RunLog.Create(job.Output, console);
        try
        {
            log.Information("resuming job {Name} in {Output} with {Stages} stage(s)", job.Name, job.Output, job.Pipeline.Stages);
            using var trainer = Create(job, log);
            if (trainer.RestoreLatest() is null)
                throw new CheckpointException($"{Path.Combine(job.Output, "checkpoints")}: no valid checkpoint to resume from; start the run with `sharelora train`");
            var result = trainer.Train(onStep, stopAfter);
            log.Information("done: step {Step} of {Steps}; adapter in {Adapter}", trainer.StepsDone, job.Steps, result.AdapterDirectory);
            return result;
        }
        catch (Exception e)
        {
            log.Error(e, "resume failed: {Message}", e.Message);
            throw;
        }
    }

    /// <summary>
    /// Restores the newest valid checkpoint of OUTPUT/checkpoints (newer invalid ones are skipped with a warning naming
    /// them and why, and left in place); returns its step, or null when there is none. Logs how long it took.
    /// </summary>
    public long? RestoreLatest()
    {
        var clock = Stopwatch.StartNew();
        var store = new CheckpointStore(Job.Output, Job.Checkpoint.Keep, _log);
        using var checkpoint = store.LoadLatestValid(_log);
        if (checkpoint is null) return null;
        var verifiedMs = clock.Elapsed.TotalMilliseconds;
        using var state = TrainingCheckpoint.Read(checkpoint);
        Restore(state);
        _log.Information("resume from {Checkpoint} took {Ms:0.0} ms (find + verify {VerifyMs:0.0} ms, read + restore the rest)",
            checkpoint.Name, clock.Elapsed.TotalMilliseconds, verifiedMs);
        return state.Step;
    }

    /// <summary>OUTPUT/job.json with overrides applied, its output pinned to <paramref name="runDirectory"/> (the folder may have moved).</summary>
    public static JobConfig LoadRunJob(string runDirectory, IEnumerable<string>? overrides = null)
    {
        var path = Path.Combine(runDirectory, JobFileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: no job.json; is {runDirectory} the OUTPUT folder of a `sharelora train` run?", path);
        var all = (overrides ?? []).Append($"output={Path.GetFullPath(runDirectory)}").ToList();
        return JobConfig.Load(path, all);
    }

    /// <summary>Refuses to start a fresh run over a folder holding checkpoints of an earlier one.</summary>
    /// <exception cref="CheckpointException">The folder holds checkpoints.</exception>
    public static void RefuseExistingCheckpoints(CheckpointStore store)
    {
        if (!Directory.Exists(store.CheckpointsDirectory)) return;
        var newest = Directory.EnumerateDirectories(store.CheckpointsDirectory)
            .Select(d => CheckpointNames.TryParseFolder(Path.GetFileName(d), out var step) ? (long?)step : null)
            .Where(s => s is not null).Max() is { } step ? CheckpointNames.Folder(step) : null;
        if (newest is not null)
            throw new CheckpointException(
                $"{store.CheckpointsDirectory} already holds checkpoints (newest {newest}): continue that run with `sharelora resume --run {store.RunDirectory}`, or start over with `sharelora train --overwrite`");
    }

    /// <summary>
    /// Continues from a checkpoint: every stage takes its layers' tensors and AdamW state (whatever partition wrote
    /// them), the shared server its masters and state, and the data cursor and step counter move to the checkpoint's.
    /// The next <see cref="Train"/> rewinds metrics.jsonl to the checkpoint's step.
    /// </summary>
    /// <exception cref="CheckpointException">The job differs from the checkpoint's in a field that changes the trajectory.</exception>
    public void Restore(RestoredTrainingState state)
    {
        if (StepsDone != 0 || _restoredFrom is not null) throw new InvalidOperationException("restore a checkpoint into a fresh trainer only");
        if (TrainingCheckpoint.Incompatibility(state.JobJson, Job) is { } problem)
            throw new CheckpointException($"{state.Name}: cannot resume: {problem} (only {string.Join(", ", TrainingCheckpoint.ResumableFields)} may change)");
        if (state.Step > Job.Steps)
            throw new CheckpointException($"{state.Name}: checkpoint is at step {state.Step}, beyond the job's steps {Job.Steps}");
        var savedSteps = System.Text.Json.Nodes.JsonNode.Parse(state.JobJson)?["steps"]?.GetValue<int>();
        if (savedSteps is { } before && before != Job.Steps)
            _log.Warning("steps changed from {Before} to {After}: the LR schedule follows the new total from step {Step} on", before, Job.Steps, state.Step);

        int imported = 0;
        foreach (var stage in _stages)
        {
            using var slice = state.ForStage(stage.FirstLayer, stage.EndLayer, holdsHead: stage.IsLast);
            stage.ImportState(slice, $"{state.Name} layers [{stage.FirstLayer}, {stage.EndLayer})");
            imported += slice.Values.Count;
        }
        if (imported != state.LayerTensorNames.Count)
            throw new CheckpointException($"{state.Name}: holds {state.LayerTensorNames.Count} per-layer tensors but this run's stages took {imported}");
        _server.ImportState(state.Shared, $"{state.Name} shared");
        var shared = _server.Values();
        try { foreach (var stage in _stages) stage.SetSharedValues(shared); }
        finally { foreach (var t in shared.Values) t.Dispose(); }
        _cursor = state.DataCursor;
        StepsDone = checked((int)state.Step);
        _restoredFrom = new RestoredFrom(state.Step, state.Name, state.Plan);
        _log.Information("restored {Checkpoint}: step {Step}, data {Cursor}; written with {OldStages} stage(s) {OldLayers}, now {Stages} stage(s) {Layers}",
            state.Name, state.Step, state.DataCursor.ToString(), state.Plan.Stages, "[" + string.Join(",", state.Plan.LayersPerStage) + "]",
            Plan.Stages.Count, "[" + string.Join(",", Plan.LayerCounts) + "]");
    }

    /// <summary>
    /// Trains the remaining steps (to job.steps, or to <paramref name="stopAfter"/> when smaller; the LR schedule always
    /// spans job.steps), evaluating every data.eval_every steps (and before the first and after the last), checkpointing
    /// every checkpoint.every steps and at the end, writing OUTPUT/job.json, OUTPUT/metrics.jsonl and OUTPUT/adapter/.
    /// </summary>
    public TrainingResult Train(Action<StepMetrics>? onStep = null, int? stopAfter = null)
    {
        int end = Math.Min(Job.Steps, stopAfter ?? Job.Steps);
        Directory.CreateDirectory(Job.Output);
        File.WriteAllText(Path.Combine(Job.Output, JobFileName), Job.ToJson());
        var store = new CheckpointStore(Job.Output, Job.Checkpoint.Keep, _log);
        var metricsPath = Path.Combine(Job.Output, MetricsWriter.FileName);
        if (_restoredFrom is { } from)
        {
            var rewound = MetricsRewind.Rewind(metricsPath, from.Step);
            _wallOffset = rewound.LastWallSeconds;
            if (rewound.Dropped > 0)
                _log.Information("metrics.jsonl rewound to step {Step}: {Dropped} later line(s) moved to {Discarded}", from.Step, rewound.Dropped, MetricsRewind.DiscardedFileName);
        }
        else if (StepsDone == 0) RefuseExistingCheckpoints(store);
        var all = new List<StepMetrics>();
        using var metrics = new MetricsWriter(metricsPath, append: _restoredFrom is not null);
        if (_restoredFrom is { } r)
            metrics.WriteEvent("resume", r.Step, ("from_step", r.Step), ("checkpoint", r.Name), ("stages_before", r.Plan.Stages), ("stages", Plan.Stages.Count));
        int evalEvery = Job.Data.EvalEvery;
        EvalResult? initialEval = null, finalEval = null;
        if (evalEvery > 0 && StepsDone == 0 && (initialEval = Evaluate()) is { } first)
        {
            metrics.WriteEval(StepsDone, first.Loss, first.Metrics);
            _log.Information("step {Step}: {Eval}", StepsDone, first.Describe());
        }
        int every = Job.Checkpoint.Every;
        while (StepsDone < end)
        {
            var m = TrainStep();
            if (evalEvery > 0 && (m.Step % evalEvery == 0 || m.Step == Job.Steps))
            {
                finalEval = Evaluate();
                m = m with { EvalLoss = finalEval?.Loss, EvalMetrics = finalEval?.Metrics };
                if (finalEval is not null) _log.Information("step {Step}: {Eval}", m.Step, finalEval.Describe());
            }
            metrics.Write(m);
            _log.Debug("step {Step}: loss {Loss:0.000000} lr {Lr:0.######} grad_norm {GradNorm:0.0000} clip {Clip:0.0000} tokens {Tokens} ({TokensPerSecond:0} tokens/s)",
                m.Step, m.Loss, m.LearningRate, m.GradNorm, m.ClipCoefficient, m.Tokens, m.TokensPerSecond);
            all.Add(m);
            onStep?.Invoke(m);
            if (!double.IsFinite(m.Loss))
                throw new InvalidOperationException($"step {m.Step}: the loss is {m.Loss.ToString(CultureInfo.InvariantCulture)}; lower optim.lr or check the data");
            if ((every > 0 && m.Step % every == 0) || m.Step == end)
            {
                var saved = SaveCheckpoint(store, new CheckpointMetrics(m.Loss, m.EvalLoss));
                metrics.WriteEvent("checkpoint", m.Step, ("save_ms", Math.Round(saved.TotalMs, 3)), ("bytes", saved.BytesWritten));
            }
        }
        var adapterDirectory = Path.Combine(Job.Output, AdapterFolder);
        SaveAdapter(adapterDirectory);
        return new TrainingResult(all, initialEval?.Loss, finalEval?.Loss, Job.Output, adapterDirectory, initialEval?.Metrics, finalEval?.Metrics);
    }

    /// <summary>
    /// Checkpoints the current step boundary into <paramref name="store"/>: every stage's per-layer state and the
    /// shared server's, the data cursor, the job and the plan (see <see cref="TrainingCheckpoint"/>).
    /// </summary>
    public CheckpointSaveResult SaveCheckpoint(CheckpointStore store, CheckpointMetrics metrics)
    {
        var clock = Stopwatch.StartNew();
        var states = new List<StageState>();
        try
        {
            foreach (var stage in _stages) states.Add(stage.ExportState());
            using var shared = _server.ExportState();
            using var content = TrainingCheckpoint.Build(StepsDone, _cursor, Job, CheckpointPlan.From(Plan), metrics, states, shared);
            var result = store.Save(content.Content);
            _log.Information("checkpoint step {Step}: {Bytes} bytes, {Ms:0.0} ms in all (write + fsync {WriteMs:0.0} ms, prune {PruneMs:0.0} ms)",
                StepsDone, result.BytesWritten, clock.Elapsed.TotalMilliseconds, result.WriteMs, result.PruneMs);
            return result with { WriteMs = clock.Elapsed.TotalMilliseconds - result.PruneMs };
        }
        finally
        {
            foreach (var st in states) st.Dispose();
        }
    }

    /// <summary>One optimizer step: the step's micro-batches through the schedule, shared step, local steps, broadcast.</summary>
    public StepMetrics TrainStep()
    {
        if (!_wall.IsRunning) _wall.Start();
        var watch = Stopwatch.StartNew();
        int step = StepsDone;
        double lr = _learningRate.At(step);
        var batches = _loader.NextStep(ref _cursor, Job.Batch.MicroBatches);
        long tokens = batches.Sum(b => (long)b.Tokens);
        long targets = batches.Sum(PredictedTargets);

        using var scope = NewDisposeScope();
        var tensors = batches.Select(b => BatchTensors.From(b, _device)).ToList();
        var inputs = tensors.Select(t => new MicroBatchInput(t.InputIds, t.AttentionMask, t.Labels)).ToList();
        var outcome = PipelineOptimizerStep.Run(_stages, _server, _schedule, step, inputs, Math.Max(1, targets), lr, Job.Optim.MaxGradNorm);
        if (outcome.Targets != targets)
            throw new InvalidOperationException($"step {step + 1}: the last stage counted {outcome.Targets} target tokens, the data {targets}");
        foreach (var t in tensors) t.Dispose();
        StepsDone++;
        var seconds = watch.Elapsed.TotalSeconds;
        return new StepMetrics(StepsDone, outcome.LossSum / Math.Max(1, targets), lr, outcome.GradNorm, outcome.ClipCoefficient,
            tokens, targets, seconds > 0 ? tokens / seconds : 0, _wallOffset + _wall.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Token-weighted mean loss over the eval set without dropout, with a GLUE job's dev metrics from the last stage's
    /// per-row predictions (gathered in eval order, <see cref="EvalMetricsOf"/>), or null when there is no eval set.
    /// </summary>
    public EvalResult? Evaluate()
    {
        if (Data.Eval.Count == 0) return null;
        double sum = 0;
        long targets = 0;
        var batches = DataLoader.InOrder(Data.Eval, Job.Batch.MicroBatchSize, _padId).ToList();
        List<float>? predictions = null;
        foreach (var batch in batches)
        {
            using var scope = NewDisposeScope();
            using var t = BatchTensors.From(batch, _device);
            var x = t.InputIds;
            foreach (var stage in _stages)
            {
                var r = stage.ForwardEval(x, t.AttentionMask, stage.IsLast ? t.Labels : null);
                if (r.Activation is { } a) x = a;
                else
                {
                    sum += r.LossSum!.Value;
                    targets += r.TargetTokens;
                    if (r.RowPredictions is { } p) (predictions ??= []).AddRange(p);
                }
            }
        }
        return new EvalResult(sum / Math.Max(1, targets), EvalMetricsOf(Job, batches, predictions), predictions);
    }

    /// <summary>
    /// The task's metrics of one evaluation from the last stage's per-row predictions over <paramref name="evalBatches"/>
    /// (in batch order) against the batches' row labels: <see cref="GlueDevMetrics"/> for a GLUE job, null for a job
    /// without a task or without predictions. The local trainer and the cluster coordinator both score here.
    /// </summary>
    /// <exception cref="ArgumentException">The predictions do not cover the eval rows one to one.</exception>
    public static EvalMetrics? EvalMetricsOf(JobConfig job, IReadOnlyList<Batch> evalBatches, IReadOnlyList<float>? predictions)
    {
        if (job.Task is null || predictions is null) return null;
        var labels = evalBatches.SelectMany(b => b.RowLabels ?? throw new ArgumentException("a GLUE eval batch has no row labels")).ToList();
        if (predictions.Count != labels.Count)
            throw new ArgumentException($"the last stage returned {predictions.Count} eval prediction(s) for {labels.Count} eval row(s)");
        return GlueDevMetrics.Of(GlueJobData.SpecOf(job), predictions, labels);
    }

    /// <summary>A bank over every layer with the current adapter values (shared from the masters); caller disposes.</summary>
    public AdapterBank GatherAdapters()
    {
        var bank = AdapterBank.Create(Layout, Job.Seed, 0, null, ScalarType.Float32, CPU);
        using var scope = NewDisposeScope();
        var values = new Dictionary<string, Tensor>(_server.Values());
        foreach (var stage in _stages)
            foreach (var p in stage.LocalParameters)
                values[p.Name] = p.Value;
        bank.LoadValues(values, source: "trainer");
        return bank;
    }

    /// <summary>Writes the adapter as PEFT (adapter_config.json + adapter_model.safetensors) and the native file
    /// (adapter.safetensors, shared tensors once) into <paramref name="directory"/>.</summary>
    public void SaveAdapter(string directory)
    {
        using var bank = GatherAdapters();
        WriteAdapterFiles(bank, directory, Job, ModelShape.Family, _stages[^1].HeadParameters);
        _log.Information("adapter written to {Directory} (PEFT + {Native})", directory, NativeAdapterFormat.FileName);
    }

    /// <summary>
    /// Writes <paramref name="bank"/> into <paramref name="directory"/> as PEFT in the layout of the model's family and as
    /// the native file (shared tensors once): what the local trainer and the cluster coordinator both write. For RoBERTa,
    /// <paramref name="head"/> is the trained head as the last stage names it ("head.classifier.dense.weight"), written
    /// with the adapter as `sharelora glue` writes it; other families ignore it.
    /// </summary>
    public static void WriteAdapterFiles(AdapterBank bank, string directory, JobConfig job, ModelFamily family,
        IReadOnlyList<(string Name, Tensor Value)> head)
    {
        string model = job.Model;
        // RoBERTa: native + classifier.safetensors + PEFT SEQ_CLS with the head as modules_to_save, as `sharelora glue` writes.
        if (family == ModelFamily.Roberta)
        {
            var hfHead = head.Select(h => (h.Name.StartsWith(RobertaStageModel.HeadPrefix, StringComparison.Ordinal)
                ? h.Name[RobertaStageModel.HeadPrefix.Length..] : h.Name, h.Value))
                .OrderBy(h => h.Item1, StringComparer.Ordinal).ToList(); // one order whoever collected the head (stage or coordinator)
            RobertaAdapterExport.Save(bank, hfHead, directory, model, GlueJobData.SpecOf(job));
            return;
        }
        // GPT-2's q/v adapters act on slices of the fused c_attn: PEFT gets them as one exact LoRA on c_attn.
        if (family == ModelFamily.Gpt2) Gpt2AdapterExport.SavePeft(bank, directory, model);
        else PeftAdapterFormat.Export(bank, directory, model);
        NativeAdapterFormat.Save(bank, Path.Combine(directory, NativeAdapterFormat.FileName));
    }

    /// <summary>Target tokens of a micro-batch as the last stage counts them. Labels are unshifted: position i's logits
    /// predict label i + 1, so column 0 never carries loss. With sequence-level labels (GLUE) it is the row count.</summary>
    public static long PredictedTargets(Batch b)
    {
        if (b.RowLabels is not null) return b.Rows; // sequence-level loss (GLUE): one term per row
        long n = 0;
        for (int r = 0; r < b.Rows; r++)
        {
            var row = b.LabelRow(r);
            for (int c = 1; c < b.Columns; c++)
                if (row[c] != TokenizedExample.IgnoreIndex) n++;
        }
        return n;
    }

    private static string JobSource(JobConfig job) => $"job '{job.Name}'";

    /// <summary>The partition of <paramref name="job"/> over <paramref name="config"/>'s layers (pipeline.stages stages, the job's
    /// schedule): the same plan the cluster coordinator uses, so both runs cut the model identically.</summary>
    public static PartitionPlan PlanOf(JobConfig job, LlamaConfig config) => PlanOf(job, ShapeOf(config));

    /// <summary>The partition of <paramref name="job"/> over a model of any family with <paramref name="shape"/>.</summary>
    public static PartitionPlan PlanOf(JobConfig job, ModelShape shape)
    {
        var policy = AdapterLayoutFactory.PolicyOf(job.Adapter, JobSource(job));
        var kind = job.Pipeline.Schedule == "gpipe" ? ScheduleKind.GPipe : ScheduleKind.OneFOneB;
        var request = new PlanRequest(job.Pipeline.Stages, job.Batch.MicroBatches, job.Batch.MicroBatchSize,
            job.Data.SourceMaxLen + job.Data.TargetMaxLen, kind, policy, job.Adapter.Rank, DTypeBytes(job.Dtype))
        {
            ActivationDtypeBytes = 4,
        };
        return PartitionPlanner.Plan(shape, request);
    }

    /// <summary>
    /// Reads a Llama model's config.json and checks the job against it (adapter ranks and targets, stage count). For
    /// callers that need the <see cref="LlamaConfig"/>; <see cref="ResolveModelShape"/> (the trainer's and the cluster's
    /// path) takes GPT-2 too.
    /// </summary>
    public static (LlamaConfig Config, AdapterLayout Layout) ResolveModel(JobConfig job)
    {
        var configPath = Path.Combine(job.Model, "config.json");
        if (File.Exists(configPath) && StageModels.FamilyOf(job.Model) is var family && family != ModelFamily.Llama)
            throw new JobConfigException(
                $"{JobSource(job)}: {configPath} is a {family.Name()} model; this path takes Llama-family models only (use ResolveModelShape for GPT-2)");
        var config = LlamaConfig.Load(configPath);
        var layout = AdapterLayoutFactory.Create(job.Adapter, config, JobSource(job), configPath);
        if (job.Pipeline.Stages > config.NumHiddenLayers)
            throw new JobConfigException(
                $"{JobSource(job)}: pipeline.stages {job.Pipeline.Stages} exceeds the {config.NumHiddenLayers} decoder layers of {configPath} (each stage needs at least one layer)");
        return (config, layout);
    }

    /// <summary>
    /// Reads the model's config.json (Llama or GPT-2, by model_type) and checks the job against it: adapter targets
    /// and ranks, stage count, and for GPT-2 that source + target lengths fit its learned positions. A RoBERTa
    /// classifier needs a GLUE task (and the task's label count), a GLUE task a RoBERTa model, an E2E task a GPT-2 model.
    /// </summary>
    public static (ModelShape Shape, AdapterLayout Layout) ResolveModelShape(JobConfig job)
    {
        var configPath = Path.Combine(job.Model, "config.json");
        var family = File.Exists(configPath) ? StageModels.FamilyOf(job.Model) : ModelFamily.Llama;
        // A task names the family it trains (checked before the family's own checks, so a Llama model is refused too).
        if (job.Task is { } task && File.Exists(configPath) && TaskFamily(task) is var needed && needed != family)
            throw new JobConfigException(
                $"{JobSource(job)}: task {task} needs a {(needed == ModelFamily.Gpt2 ? "GPT-2 model" : "RoBERTa sequence classifier")}, but {configPath} is a {family.Name()} model");
        if (family == ModelFamily.Llama)
        {
            var (config, llamaLayout) = ResolveModel(job);
            return (ShapeOf(config), llamaLayout);
        }
        if (family == ModelFamily.Roberta && job.Task is null)
            throw new JobConfigException(
                $"{JobSource(job)}: {configPath} is a RoBERTa sequence classifier; it trains on a GLUE task: add \"task\": {{\"kind\": \"glue\", \"name\": \"sst2\"}} (or use `sharelora glue`)");
        var shape = ModelShape.FromHfConfigJson(configPath);
        if (family == ModelFamily.Roberta)
        {
            var spec = GlueJobData.SpecOf(job);
            if (shape.NumLabels != spec.OutputCount)
                throw new JobConfigException(
                    $"{JobSource(job)}: {configPath} has num_labels {shape.NumLabels} but {spec.Name} needs {spec.OutputCount}");
        }
        var layout = AdapterLayoutFactory.Create(job.Adapter, shape, JobSource(job), configPath);
        if (job.Pipeline.Stages > shape.NumLayers)
            throw new JobConfigException(
                $"{JobSource(job)}: pipeline.stages {job.Pipeline.Stages} exceeds the {shape.NumLayers} layers of {configPath} (each stage needs at least one layer)");
        long longest = (long)job.Data.SourceMaxLen + job.Data.TargetMaxLen;
        // GLUE inputs are capped by the model's positions when encoded (data.source_max_len is the max length).
        if (family == ModelFamily.Gpt2 && longest > shape.MaxPositions)
            throw new JobConfigException(
                $"{JobSource(job)}: data.source_max_len + data.target_max_len = {longest} exceeds n_positions {shape.MaxPositions} of {configPath}; lower them");
        return (shape, layout);
    }

    // The family a task's data and loss are written for: GLUE heads on RoBERTa, E2E generation on GPT-2.
    private static ModelFamily TaskFamily(TaskConfig task) => task.Kind == TaskConfig.E2e ? ModelFamily.Gpt2 : ModelFamily.Roberta;

    /// <summary>eps of the training loss's label smoothing for <paramref name="job"/>'s stages: task.label_smoothing of an
    /// E2E job, else 0. Evaluation losses are never smoothed (<see cref="IStageModel.EvalHead"/>).</summary>
    public static double LabelSmoothingOf(JobConfig job) => job.Task is { Kind: TaskConfig.E2e } task ? task.LabelSmoothing : 0.0;

    private static ModelShape ShapeOf(LlamaConfig c) =>
        new(c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.VocabSize, c.TieWordEmbeddings);

    /// <summary>The learning-rate schedule of a job (optim.schedule, warmup, steps).</summary>
    public static LearningRateSchedule ScheduleOf(JobConfig job)
    {
        var kind = job.Optim.Schedule switch
        {
            "linear" => LearningRateScheduleKind.Linear,
            "cosine" => LearningRateScheduleKind.Cosine,
            _ => job.Optim.WarmupSteps > 0 ? LearningRateScheduleKind.ConstantWithWarmup : LearningRateScheduleKind.Constant,
        };
        return new LearningRateSchedule(kind, job.Optim.Lr, job.Optim.WarmupSteps, job.Steps);
    }

    /// <summary>The compute dtype of a job's "dtype" field.</summary>
    public static ScalarType ScalarTypeOf(string dtype) => dtype switch
    {
        "bf16" => ScalarType.BFloat16,
        "fp16" => ScalarType.Float16,
        _ => ScalarType.Float32,
    };

    private static double DTypeBytes(string dtype) => dtype == "fp32" ? 4 : 2;

    public void Dispose()
    {
        foreach (var s in _stages) s.Dispose();
        _server.Dispose();
    }
}
