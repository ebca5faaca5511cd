using System.Diagnostics;
using Serilog.Core;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Tokenization;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Optimization;
using ShareLoRA.Training.Pipeline;
using ShareLoRA.Training.Planning;
using ShareLoRA.Training.Trainer;
using TorchSharp;
using static TorchSharp.torch;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// Everything the coordinator owns for one job, in one place and free of Akka: the job, the partition plan, the data
/// loader and cursor, the learning-rate schedule, the shared tensors' masters and AdamW state
/// (<see cref="SharedParameterServer"/>), the run log and metrics.jsonl. The same pieces and calls as
/// <see cref="LocalPipelineTrainer"/>, so a cluster run follows the reference trajectory. A checkpoint is exactly this
/// state plus the stages' <see cref="StageState"/>s; <see cref="Restore"/> and <see cref="RestartFromScratch"/> move the
/// run back to a checkpoint (or step 0) for a resume or a recovery, mirroring <see cref="LocalPipelineTrainer.Restore"/>.
/// </summary>
public sealed class JobRun : IDisposable
{
    private readonly DataLoader _loader;
    private readonly LearningRateSchedule _learningRate;
    private readonly AdamWSettings _optimizer;
    private SharedParameterServer _server;
    private MetricsWriter _metrics;
    private readonly Stopwatch _wall = new();
    private double _wallOffset;
    private DataCursor _cursor = DataCursor.Start;
    private readonly IReadOnlyList<Batch> _evalBatches;
    // Whether metrics.jsonl holds the step-0 evaluation: a recovery back to step 0 keeps that line and does not redo it.
    private bool _initialEvalWritten;
    // The eval loss of the last written step line (null when that step did not evaluate), for its checkpoint.
    private double? _lastStepEvalLoss;

    private JobRun(string jobId, JobConfig job, ModelShape shape, AdapterLayout layout, PartitionPlan plan, DataLoader loader,
        IReadOnlyList<Batch> evalBatches, SharedParameterServer server, AdamWSettings optimizer, Logger log, bool appendMetrics)
    {
        _evalBatches = evalBatches;
        JobId = jobId;
        Job = job;
        ModelShape = shape;
        Layout = layout;
        Plan = plan;
        _loader = loader;
        _server = server;
        _optimizer = optimizer;
        Log = log;
        StageJob = job;
        _learningRate = LocalPipelineTrainer.ScheduleOf(job);
        _metrics = new MetricsWriter(MetricsPath, append: appendMetrics);
    }

    public string JobId { get; }

    /// <summary>The job as submitted (pipeline.stages is the stage count the run aims for).</summary>
    public JobConfig Job { get; }

    /// <summary>The job with the current plan's stage count: what the stages are spawned with.</summary>
    public JobConfig StageJob { get; private set; }

    /// <summary>The base model's shape and family (Llama or GPT-2).</summary>
    public ModelShape ModelShape { get; }
    public AdapterLayout Layout { get; }

    /// <summary>The current partition (a recovery over fewer workers re-plans).</summary>
    public PartitionPlan Plan { get; private set; }

    private string MetricsPath => Path.Combine(Job.Output, MetricsWriter.FileName);

    /// <summary>OUTPUT/train.log of the run (the coordinator's view).</summary>
    public Logger Log { get; }

    /// <summary>Optimizer steps committed.</summary>
    public int StepsDone { get; private set; }

    public DataCursor Cursor => _cursor;

    /// <summary>
    /// Reads the model config, plans the partition, prepares the data and the shared masters; writes OUTPUT/job.json.
    /// A fresh run (<paramref name="resume"/> false) refuses an output holding checkpoints, as the local trainer does;
    /// a resumed one keeps metrics.jsonl for <see cref="Restore"/> to rewind.
    /// </summary>
    /// <exception cref="CheckpointException">A fresh run over an output that holds checkpoints.</exception>
    public static JobRun Start(string jobId, JobConfig job, bool resume = false)
    {
        if (!resume) LocalPipelineTrainer.RefuseExistingCheckpoints(new CheckpointStore(job.Output, job.Checkpoint.Keep, Serilog.Core.Logger.None));
        var (shape, layout) = LocalPipelineTrainer.ResolveModelShape(job);
        var plan = LocalPipelineTrainer.PlanOf(job, shape);
        Directory.CreateDirectory(job.Output);
        var log = RunLog.Create(job.Output, console: false);
        try
        {
            log.Information("job {Id} ({Name}): {Length} of {Micro} x {Size} sequences, {Stages} stage(s) on workers, {Schedule}, output {Output}",
                jobId, job.Name, job.Epochs is { } epochs ? $"{epochs} epochs" : $"{job.Steps} steps", job.Batch.MicroBatches, job.Batch.MicroBatchSize, job.Pipeline.Stages, job.Pipeline.Schedule, job.Output);
            if (resume) log.Information("resuming job {Name} in {Output} from its newest valid checkpoint", job.Name, job.Output);
            using var tokenizer = HfTokenizer.Load(job.Model);
            var data = LocalPipelineTrainer.PrepareData(job, tokenizer);
            log.Information("{Report}", data.Report.ToString());
            // The same resolution as LocalPipelineTrainer: the run (journal, stages, job.json, checkpoints) sees steps.
            job = JobSteps.Resolve(job, data.Train.Count, log);
            // The same eval batches as LocalPipelineTrainer.Evaluate: the eval split in order, micro_batch_size at a time.
            List<Batch> evalBatches = job.Data.EvalEvery > 0
                ? DataLoader.InOrder(data.Eval, job.Batch.MicroBatchSize, BatchCollator.PadIdOf(tokenizer)).ToList()
                : [];
            if (job.Data.EvalEvery > 0)
            {
                if (evalBatches.Count == 0) log.Warning("data.eval_every is {Every}, but there is no eval split (data.eval or data.eval_fraction): no evaluation", job.Data.EvalEvery);
                else log.Information("eval: {Examples} example(s) in {Batches} batch(es), before the first step, every {Every} steps and at the last",
                    data.Eval.Count, evalBatches.Count, job.Data.EvalEvery);
            }
            var loader = new DataLoader(data.Train, job.Batch.MicroBatchSize, BatchCollator.PadIdOf(tokenizer), (ulong)job.Seed,
                job.Data.Shuffle, job.Data.GroupByLength);
            var optimizer = new AdamWSettings(job.Optim.Lr, job.Optim.Betas.Beta1, job.Optim.Betas.Beta2, job.Optim.Eps, job.Optim.WeightDecay);
            // Every bank draws the same shared init (counter-seeded by layer 0), so a bank made here seeds the masters
            // exactly as the stages' replicas start.
            var server = InitialServer(layout, job.Seed, optimizer);
            // A resume writes it once the checkpoint accepted the job (Restore): a refused --set must not replace it.
            if (!resume) File.WriteAllText(Path.Combine(job.Output, LocalPipelineTrainer.JobFileName), job.ToJson());
            log.Information("plan: {Plan}", plan.ToString());
            log.Information("adapter sync: {Sync} B/step for {Method} across {Stages} stage(s) (fp32 partial gradients up + values down); " +
                "plain LoRA on the same targets and rank would need {Lora} B/step across the same stages",
                plan.AdapterSyncBytes, layout.MethodName, job.Pipeline.Stages, plan.LoraSyncBytes);
            return new JobRun(jobId, job, shape, layout, plan, loader, evalBatches, server, optimizer, log, appendMetrics: resume);
        }
        catch (Exception e)
        {
            log.Error(e, "job {Id} could not start: {Message}", jobId, e.Message);
            log.Dispose();
            throw;
        }
    }

    private static SharedParameterServer InitialServer(AdapterLayout layout, long seed, AdamWSettings optimizer)
    {
        using var bank = AdapterBank.Create(layout, seed, 0, null, ScalarType.Float32, CPU);
        return SharedParameterServer.FromBank(bank, optimizer);
    }

    /// <summary>Re-plans over <paramref name="stages"/> stages with the same planner (a recovery with fewer workers).</summary>
    public void Replan(int stages)
    {
        StageJob = Job with { Pipeline = Job.Pipeline with { Stages = stages } };
        Plan = LocalPipelineTrainer.PlanOf(StageJob, ModelShape);
        Log.Information("re-planned over {Stages} stage(s): {Plan}", stages, Plan.ToString());
    }

    /// <summary>
    /// The newest valid checkpoint of the output read into memory (caller disposes), or null when there is none. A
    /// corrupt newer one is skipped with a line in train.log naming it and why, and left in place.
    /// </summary>
    public RestoredTrainingState? LoadLatestCheckpoint()
    {
        var store = new CheckpointStore(Job.Output, Job.Checkpoint.Keep, Log);
        using var checkpoint = store.LoadLatestValid(Log);
        return checkpoint is null ? null : TrainingCheckpoint.Read(checkpoint);
    }

    /// <summary>
    /// Moves the run to a checkpoint (the coordinator hands the per-layer state to the stages): shared masters and their
    /// AdamW state, data cursor and step counter; metrics.jsonl rewound to its step (later lines to
    /// metrics.discarded.jsonl). The same compatibility check as <see cref="LocalPipelineTrainer.Restore"/>.
    /// </summary>
    /// <exception cref="CheckpointException">The job differs from the checkpoint's in a field that changes the trajectory.</exception>
    public void Restore(RestoredTrainingState state)
    {
        if (TrainingCheckpoint.Incompatibility(state.JobJson, Job) is { } problem)
            throw new CheckpointException($"{state.Name}: cannot resume: {problem} (only {string.Join(", ", TrainingCheckpoint.ResumableFields)} may change)");
        if (state.Step > Job.Steps)
            throw new CheckpointException($"{state.Name}: checkpoint is at step {state.Step}, beyond the job's steps {Job.Steps}");
        File.WriteAllText(Path.Combine(Job.Output, LocalPipelineTrainer.JobFileName), Job.ToJson());
        _server.ImportState(state.Shared, $"{state.Name} shared");
        _cursor = state.DataCursor;
        StepsDone = checked((int)state.Step);
        _lastStepEvalLoss = null;
        RewindMetrics(state.Step);
        Log.Information("restored {Checkpoint}: step {Step}, data {Cursor}; written with {OldStages} stage(s) {OldLayers}, now {Stages} stage(s) {Layers}",
            state.Name, state.Step, state.DataCursor.ToString(), state.Plan.Stages, "[" + string.Join(",", state.Plan.LayersPerStage) + "]",
            Plan.Stages.Count, "[" + string.Join(",", Plan.LayerCounts) + "]");
    }

    /// <summary>
    /// A recovery's reload: the newest valid checkpoint restored into the run and returned (for the stages; caller
    /// disposes), or the run back at step 0 and null when there is none.
    /// </summary>
    public RestoredTrainingState? RewindToLatestCheckpoint()
    {
        var state = LoadLatestCheckpoint();
        if (state is null)
        {
            RestartFromScratch();
            return null;
        }
        try { Restore(state); }
        catch
        {
            state.Dispose();
            throw;
        }
        return state;
    }

    /// <summary>Back to step 0 (a worker lost before the first checkpoint): initial shared masters, fresh optimizer, data from the start.</summary>
    public void RestartFromScratch()
    {
        _server.Dispose();
        _server = InitialServer(Layout, Job.Seed, _optimizer);
        _cursor = DataCursor.Start;
        StepsDone = 0;
        _lastStepEvalLoss = null;
        RewindMetrics(0);
        Log.Information("no checkpoint yet: restarting from step 0");
    }

    private void RewindMetrics(long step)
    {
        _metrics.Dispose();
        var rewound = MetricsRewind.Rewind(MetricsPath, step);
        if (rewound.Dropped > 0)
            Log.Information("metrics.jsonl rewound to step {Step}: {Dropped} later line(s) moved to {Discarded}", step, rewound.Dropped, MetricsRewind.DiscardedFileName);
        _metrics = new MetricsWriter(MetricsPath, append: true);
        _wallOffset = rewound.LastWallSeconds;
        _wall.Reset();
    }

    /// <summary>The shared masters' current values (new handles the caller disposes), for restored stages' replicas.</summary>
    public IReadOnlyDictionary<string, Tensor> SharedValues() => _server.Values();

    /// <summary>
    /// Saves a checkpoint of the committed step from the stages' states (any partition) and the shared server's into
    /// OUTPUT/checkpoints, keeping checkpoint.keep of them. Its metrics carry the step's eval loss when the step evaluated
    /// (so the store keeps the best checkpoint by eval loss, as the local trainer's do).
    /// </summary>
    public CheckpointSaveResult SaveCheckpoint(IEnumerable<StageState> stages, double? lastLoss)
    {
        var store = new CheckpointStore(Job.Output, Job.Checkpoint.Keep, Log);
        using var shared = _server.ExportState();
        using var content = TrainingCheckpoint.Build(StepsDone, _cursor, StageJob, CheckpointPlan.From(Plan),
            new CheckpointMetrics(lastLoss, _lastStepEvalLoss), stages, shared);
        return store.Save(content.Content);
    }

    /// <summary>True when step <paramref name="step"/> (1-based, just committed) ends with a checkpoint: every checkpoint.every and the last.</summary>
    public bool CheckpointDue(int step) => (Job.Checkpoint.Every > 0 && step % Job.Checkpoint.Every == 0) || step == Job.Steps;

    /// <summary>
    /// A "worker_lost" event, written after the rewind with the step the run continues from (so a later rewind to a
    /// newer checkpoint keeps it); lost_at_step is the step that was in progress.
    /// </summary>
    public void RecordWorkerLost(string workers, string stages, string reason, int lostAtStep)
    {
        WriteEvent("worker_lost", StepsDone, ("worker", workers), ("stage", stages), ("reason", reason), ("lost_at_step", lostAtStep));
        Log.Warning("worker(s) lost: {Workers} (stage {Stages}) during step {Step}; continuing from step {From}", workers, stages, lostAtStep, StepsDone);
    }

    /// <summary>A "recovered" event once the first step after a recovery is committed (step = the step it continued from).</summary>
    public void RecordRecovered(int fromStep, int stagesBefore, int stages, double detectMs, double seconds)
    {
        WriteEvent("recovered", fromStep, ("from_step", fromStep), ("stages_before", stagesBefore), ("stages", stages),
            ("detect_ms", detectMs), ("seconds", seconds));
        Log.Information("recovered: step {Step} committed {Seconds:0.0} s after the loss (from step {From}, {Before} -> {Stages} stage(s), probe {DetectMs:0} ms)",
            StepsDone, seconds, fromStep, stagesBefore, stages, detectMs);
    }

    /// <summary>An event line in metrics.jsonl ("checkpoint", "resume", "worker_lost", "recovered").</summary>
    public void WriteEvent(string name, long step, params (string Name, object? Value)[] fields) => _metrics.WriteEvent(name, step, fields);

    /// <summary>The next step's micro-batches (advancing the cursor), its learning rate and its target and real token counts.</summary>
    public (IReadOnlyList<Batch> Batches, double LearningRate, long TargetTokens, long Tokens) NextStep()
    {
        if (!_wall.IsRunning) _wall.Start();
        var batches = _loader.NextStep(ref _cursor, Job.Batch.MicroBatches);
        return (batches, _learningRate.At(StepsDone), batches.Sum(LocalPipelineTrainer.PredictedTargets), batches.Sum(b => (long)b.Tokens));
    }

    /// <summary>
    /// Sums the stages' partial shared gradients (in stage order), clips by the global norm, steps the shared tensors.
    /// The caller broadcasts the result's values and clip coefficient, then disposes it.
    /// </summary>
    public SharedStepResult StepShared(IReadOnlyList<IReadOnlyDictionary<string, Tensor>> partials, IReadOnlyList<double> localNormsSquared,
        double learningRate) => _server.Step(partials, localNormsSquared, learningRate, Job.Optim.MaxGradNorm);

    /// <summary>
    /// Counts a committed step and returns its metrics with the cluster's fields; <see cref="WriteStep"/> writes them once
    /// the step's evaluation (when due) has added its eval loss, so the line looks like the local trainer's.
    /// </summary>
    public StepMetrics CompleteStep(double lossSum, double learningRate, SharedStepResult shared, long tokens, long targets, double stepSeconds,
        double bubbleFraction, long activationBytes, long adapterSyncBytes)
    {
        StepsDone++;
        return new StepMetrics(StepsDone, lossSum / Math.Max(1, targets), learningRate, shared.GradNorm, shared.ClipCoefficient,
            tokens, targets, stepSeconds > 0 ? tokens / stepSeconds : 0, _wallOffset + _wall.Elapsed.TotalSeconds,
            BubbleFraction: Math.Round(bubbleFraction, 4), ActivationBytes: activationBytes, AdapterSyncBytes: adapterSyncBytes);
    }

    /// <summary>Writes a completed step's line to metrics.jsonl (with eval_loss when it evaluated).</summary>
    public void WriteStep(StepMetrics m)
    {
        _metrics.Write(m);
        _lastStepEvalLoss = m.EvalLoss;
        if (m.EvalLoss is { } eval) Log.Information("step {Step}: {Eval}", m.Step, new EvalResult(eval, m.EvalMetrics).Describe());
        double bubbleFraction = m.BubbleFraction ?? 0;
        long activationBytes = m.ActivationBytes ?? 0, adapterSyncBytes = m.AdapterSyncBytes ?? 0;
        Log.Debug("step {Step}: loss {Loss:0.000000} lr {Lr:0.######} grad_norm {GradNorm:0.0000} clip {Clip:0.0000} tokens {Tokens} ({TokensPerSecond:0} tokens/s), " +
            "bubble {Bubble:0.000}, activations {Activation} B, adapter sync {Sync} B",
            m.Step, m.Loss, m.LearningRate, m.GradNorm, m.ClipCoefficient, m.Tokens, m.TokensPerSecond, bubbleFraction, activationBytes, adapterSyncBytes);
    }

    /// <summary>The eval split as the local trainer batches it (in order, micro_batch_size each); empty without evaluation.</summary>
    public IReadOnlyList<Batch> EvalBatches => _evalBatches;

    /// <summary>Target tokens of the whole eval set as the last stage counts them.</summary>
    public long EvalTargets() => _evalBatches.Sum(LocalPipelineTrainer.PredictedTargets);

    /// <summary>True when the run must evaluate before its first step: a fresh start (not a resume, and not a recovery
    /// back to step 0 whose metrics.jsonl already holds the step-0 evaluation), as <see cref="LocalPipelineTrainer.Train"/>.</summary>
    public bool InitialEvalDue => Job.Data.EvalEvery > 0 && _evalBatches.Count > 0 && StepsDone == 0 && !_initialEvalWritten;

    /// <summary>True when step <paramref name="step"/> (1-based, just committed) evaluates: every data.eval_every and the last.</summary>
    public bool EvalDue(int step) => Job.Data.EvalEvery > 0 && _evalBatches.Count > 0 && (step % Job.Data.EvalEvery == 0 || step == Job.Steps);

    /// <summary>The token-weighted mean eval loss from the last stage's sum and count, as <see cref="LocalPipelineTrainer.Evaluate"/>.</summary>
    public static double EvalLoss(double lossSum, long targets) => lossSum / Math.Max(1, targets);

    /// <summary>
    /// The task's eval metrics from the last stage's row predictions (in eval batch order) against the eval rows' labels,
    /// scored by the same <see cref="LocalPipelineTrainer.EvalMetricsOf"/> as the local trainer; null without a task.
    /// </summary>
    /// <exception cref="ArgumentException">The predictions do not cover the eval rows one to one.</exception>
    public EvalMetrics? EvalMetrics(IReadOnlyList<float>? rowPredictions) => LocalPipelineTrainer.EvalMetricsOf(Job, _evalBatches, rowPredictions);

    /// <summary>Writes the evaluation before the first step ({"step": 0, "eval_loss", dev_*}), as the local trainer does.</summary>
    public void RecordInitialEval(EvalResult eval)
    {
        _metrics.WriteEval(StepsDone, eval.Loss, eval.Metrics);
        _initialEvalWritten = true;
        Log.Information("step {Step}: {Eval}", StepsDone, eval.Describe());
    }

    /// <summary>Writes OUTPUT/adapter (PEFT for the model's family + native) from the shared masters and the stages' per-layer
    /// values (with a RoBERTa last stage's head, named "head.*", which goes to the head files); returns the folder.</summary>
    public string SaveAdapter(IReadOnlyDictionary<string, Tensor> localValues)
    {
        var directory = Path.Combine(Job.Output, LocalPipelineTrainer.AdapterFolder);
        using var bank = AdapterBank.Create(Layout, Job.Seed, 0, null, ScalarType.Float32, CPU);
        var shared = _server.Values();
        try
        {
            var values = new Dictionary<string, Tensor>(shared);
            foreach (var (name, value) in localValues)
                if (!name.StartsWith(RobertaStageModel.HeadPrefix, StringComparison.Ordinal)) values[name] = value;
            bank.LoadValues(values, source: "stages");
        }
        finally
        {
            foreach (var t in shared.Values) t.Dispose();
        }
        var head = localValues.Where(kv => kv.Key.StartsWith(RobertaStageModel.HeadPrefix, StringComparison.Ordinal))
            .Select(kv => (kv.Key, kv.Value)).ToList();
        LocalPipelineTrainer.WriteAdapterFiles(bank, directory, Job, ModelShape.Family, head);
        Log.Information("adapter written to {Directory} (PEFT + {Native})", directory, NativeAdapterFormat.FileName);
        return directory;
    }

    public void Dispose()
    {
        _server.Dispose();
        _metrics.Dispose();
        Log.Dispose();
    }
}
