using System.CommandLine;
using ShareLoRA.Cli.Progress;
using static System.FormattableString;
using ShareLoRA.Training.Jobs;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Trainer;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora train`: runs a job in this process (the single-process reference trainer, P stages in one process).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var job = new Option<string>("--job") { Description = "Job file (JSON with // comments; see jobs/example-llama3-8b-share-a.json)", Required = true };
        var set = new Option<string[]>("--set")
        {
            Description = "Override a job field before validation, e.g. --set optim.lr=1e-3 --set model=/models/x (repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var threads = new Option<int?>("--threads")
        {
            Description = "Intra-op CPU threads for tensor work (default: libtorch's, one per core); 1 is faster for tiny models on busy machines",
        };
        var quiet = QuietOption();
        var stopAfter = StopAfterOption();
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Start over in an OUTPUT that holds checkpoints of an earlier run (deletes OUTPUT/checkpoints); without it train refuses and points to `resume`",
        };

        var command = new Command("train",
            "Fine-tune a model with LoRA / ShareLoRA adapters as a job file describes, in this process: writes OUTPUT/metrics.jsonl, " +
            "OUTPUT/train.log, OUTPUT/job.json and OUTPUT/adapter/ (PEFT + native).")
        {
            job, set, threads, quiet, stopAfter, overwrite,
        };
        command.SetAction(parse =>
        {
            var config = JobConfig.Load(parse.GetValue(job)!, parse.GetValue(set) ?? []);
            SetThreads(parse.GetValue(threads));
            var stop = CheckedStopAfter(parse.GetValue(stopAfter));
            using var progress = ProgressSinks.Create(parse.GetValue(quiet));
            // --stop-after ends the bar (and the ETA) early; an "epochs" job knows its steps once its data is prepared.
            void StartProgress(JobConfig resolved) => progress.Start(Math.Min(resolved.Steps, stop ?? resolved.Steps));
            if (config.Epochs is null) StartProgress(config);
            var result = LocalPipelineTrainer.Run(config, console: progress.Messages, onStep: m => Report(progress, m),
                stopAfter: stop, overwrite: parse.GetValue(overwrite), onStart: resolved => { if (config.Epochs is not null) StartProgress(resolved); });
            var last = result.Steps.Count > 0 ? result.Steps[^1] : null;
            var eval = result.FinalEvalLoss is { } e ? Invariant($", eval loss {result.InitialEvalLoss:0.0000} -> {e:0.0000}")
                + (result.FinalEvalMetrics is { } fm ? $", {fm.Describe()}" : "") : "";
            progress.Finish(Invariant($"trained {result.Steps.Count} steps, final loss {last?.Loss:0.0000}{eval}; adapter: {result.AdapterDirectory}"));
            return 0;
        });
        return command;
    }

    /// <summary>--quiet, shared with `resume`.</summary>
    internal static Option<bool> QuietOption() => new("--quiet")
    {
        Description = "No progress display and no log lines: print only the final summary (the run log still goes to OUTPUT/train.log)",
    };

    /// <summary>--stop-after, shared with `resume`.</summary>
    internal static Option<int?> StopAfterOption() => new("--stop-after")
    {
        Description = "Stop after this optimizer step (with a checkpoint) without changing the job's steps or LR schedule; continue later with `resume`",
    };

    internal static int? CheckedStopAfter(int? value) =>
        value is { } n && n < 1 ? throw new UserError($"--stop-after must be >= 1 (got {n})") : value;

    internal static void SetThreads(int? threads)
    {
        if (threads is not { } n) return;
        if (n < 1) throw new UserError($"--threads must be >= 1 (got {n})");
        TorchSharp.torch.set_num_threads(n);
    }

    /// <summary>Shows a finished step of a local run (`train`, `resume`) on the progress display.</summary>
    internal static void Report(IProgressSink progress, StepMetrics m) =>
        progress.Report(m.Step, m.Loss, m.TokensPerSecond, StepDetails(m));

    /// <summary>The figures after loss and tokens/s: "lr 2.0e-3  grad 0.412" (+ "  eval 1.2345" on eval steps, and a
    /// task's metrics: "  eval 0.6931, accuracy 0.5000").</summary>
    internal static string StepDetails(StepMetrics m) =>
        Invariant($"lr {m.LearningRate:0.0e+0}  grad {m.GradNorm:0.000}")
        + (m.EvalLoss is { } e ? Invariant($"  eval {e:0.0000}") + (m.EvalMetrics is { } em ? ", " + em.Describe() : "") : "");
}
