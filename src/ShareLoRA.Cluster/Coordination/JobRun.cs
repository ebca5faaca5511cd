using System.Diagnostics;
using Serilog.Core;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Model.Config;
using ShareLoRA.Model.Tokenization;
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
/// <see cref="LocalPipelineTrainer"/>, so a cluster run follows the reference trajectory. A later checkpoint
/// (save at a step boundary / reload) needs exactly this state plus the stages' <see cref="StageState"/>s.
/// </summary>
public sealed class JobRun : IDisposable
{
    private readonly DataLoader _loader;
    private readonly LearningRateSchedule _learningRate;
    private readonly SharedParameterServer _server;
    private readonly MetricsWriter _metrics;
    private readonly Stopwatch _wall = new();
    private DataCursor _cursor = DataCursor.Start;

    private JobRun(string jobId, JobConfig job, LlamaConfig config, AdapterLayout layout, PartitionPlan plan, DataLoader loader,
        SharedParameterServer server, Logger log)
    {
        JobId = jobId;
        Job = job;
        ModelConfig = config;
        Layout = layout;
        Plan = plan;
        _loader = loader;
        _server = server;
        Log = log;
        _learningRate = LocalPipelineTrainer.ScheduleOf(job);
        _metrics = new MetricsWriter(Path.Combine(job.Output, MetricsWriter.FileName));
    }

    public string JobId { get; }
    public JobConfig Job { get; }
    public LlamaConfig ModelConfig { get; }
    public AdapterLayout Layout { get; }
    public PartitionPlan Plan { get; }

    /// <summary>OUTPUT/train.log of the run (the coordinator's view).</summary>
    public Logger Log { get; }

    /// <summary>Optimizer steps committed.</summary>
    public int StepsDone { get; private set; }

    public DataCursor Cursor => _cursor;

    /// <summary>Reads the model config, plans the partition, prepares the data and the shared masters; writes OUTPUT/job.json.</summary>
    public static JobRun Start(string jobId, JobConfig job)
    {
        var (config, layout) = LocalPipelineTrainer.ResolveModel(job);
        var plan = LocalPipelineTrainer.PlanOf(job, config);
        Directory.CreateDirectory(job.Output);
        var log = RunLog.Create(job.Output, console: false);
        try
        {
            log.Information("job {Id} ({Name}): {Steps} steps of {Micro} x {Size} sequences, {Stages} stage(s) on workers, {Schedule}, output {Output}",
                jobId, job.Name, job.Steps, job.Batch.MicroBatches, job.Batch.MicroBatchSize, job.Pipeline.Stages, job.Pipeline.Schedule, job.Output);
            using var tokenizer = HfTokenizer.Load(job.Model);
            var data = TrainingData.Prepare(job.Data, tokenizer, job.Seed);
            log.Information("{Report}", data.Report.ToString());
            if (job.Data.EvalEvery > 0)
                log.Warning("data.eval_every is set, but cluster runs do not evaluate yet; use `sharelora eval` on the adapter");
            var loader = new DataLoader(data.Train, job.Batch.MicroBatchSize, BatchCollator.PadIdOf(tokenizer), (ulong)job.Seed,
                job.Data.Shuffle, job.Data.GroupByLength);
            var optimizer = new AdamWSettings(job.Optim.Lr, job.Optim.Betas.Beta1, job.Optim.Betas.Beta2, job.Optim.Eps, job.Optim.WeightDecay);
            // Every bank draws the same shared init (counter-seeded by layer 0), so a bank made here seeds the masters
            // exactly as the stages' replicas start.
            SharedParameterServer server;
            using (var bank = AdapterBank.Create(layout, job.Seed, 0, null, ScalarType.Float32, CPU))
                server = SharedParameterServer.FromBank(bank, optimizer);
            File.WriteAllText(Path.Combine(job.Output, LocalPipelineTrainer.JobFileName), job.ToJson());
            log.Information("plan: {Plan}", plan.ToString());
            log.Information("adapter sync: {Sync} B/step for {Method} across {Stages} stage(s) (fp32 partial gradients up + values down); " +
                "plain LoRA on the same targets and rank would need {Lora} B/step across the same stages",
                plan.AdapterSyncBytes, layout.MethodName, job.Pipeline.Stages, plan.LoraSyncBytes);
            return new JobRun(jobId, job, config, layout, plan, loader, server, log);
        }
        catch (Exception e)
        {
            log.Error(e, "job {Id} could not start: {Message}", jobId, e.Message);
            log.Dispose();
            throw;
        }
    }

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

    /// <summary>Records a committed step in metrics.jsonl with the cluster's extra fields and returns its metrics.</summary>
    public StepMetrics RecordStep(double lossSum, double learningRate, SharedStepResult shared, long tokens, long targets, double stepSeconds,
        double bubbleFraction, long activationBytes, long adapterSyncBytes)
    {
        StepsDone++;
        var m = new StepMetrics(StepsDone, lossSum / Math.Max(1, targets), learningRate, shared.GradNorm, shared.ClipCoefficient,
            tokens, targets, stepSeconds > 0 ? tokens / stepSeconds : 0, _wall.Elapsed.TotalSeconds);
        _metrics.Write(m, [("bubble_fraction", Math.Round(bubbleFraction, 4)), ("activation_bytes", activationBytes), ("adapter_sync_bytes", adapterSyncBytes)]);
        Log.Debug("step {Step}: loss {Loss:0.000000} lr {Lr:0.######} grad_norm {GradNorm:0.0000} clip {Clip:0.0000} tokens {Tokens} ({TokensPerSecond:0} tokens/s), " +
            "bubble {Bubble:0.000}, activations {Activation} B, adapter sync {Sync} B",
            m.Step, m.Loss, m.LearningRate, m.GradNorm, m.ClipCoefficient, m.Tokens, m.TokensPerSecond, bubbleFraction, activationBytes, adapterSyncBytes);
        return m;
    }

    /// <summary>Writes OUTPUT/adapter (PEFT + native) from the shared masters and the stages' per-layer values; returns the folder.</summary>
    public string SaveAdapter(IReadOnlyDictionary<string, Tensor> localValues)
    {
        var directory = Path.Combine(Job.Output, LocalPipelineTrainer.AdapterFolder);
        using var bank = AdapterBank.Create(Layout, Job.Seed, 0, null, ScalarType.Float32, CPU);
        var shared = _server.Values();
        try
        {
            var values = new Dictionary<string, Tensor>(shared);
            foreach (var (name, value) in localValues) values[name] = value;
            bank.LoadValues(values, source: "stages");
        }
        finally
        {
            foreach (var t in shared.Values) t.Dispose();
        }
        PeftAdapterFormat.Export(bank, directory, Job.Model);
        NativeAdapterFormat.Save(bank, Path.Combine(directory, NativeAdapterFormat.FileName));
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
