using System.CommandLine;
using ShareLoRA.Cli.Progress;
using static System.FormattableString;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Training.Trainer;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// `sharelora resume`: continues a `train` run from its newest valid checkpoint, on the same or another partition; with
/// --seed, continues a cluster run (after the whole cluster was stopped) on a running cluster instead.
/// </summary>
public static class ResumeCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "The run's OUTPUT folder (holds job.json and checkpoints/)", Required = true };
        var set = new Option<string[]>("--set")
        {
            Description = "Override a field of OUTPUT/job.json, e.g. --set pipeline.stages=3 to re-partition; only " +
                          "name, steps, device, pipeline.*, checkpoint.* and data.eval_every may differ from the checkpoint (repeatable)",
            AllowMultipleArgumentsPerToken = false,
        };
        var threads = new Option<int?>("--threads") { Description = "Intra-op CPU threads for tensor work (default: libtorch's, one per core)" };
        var quiet = TrainCommand.QuietOption();
        var stopAfter = TrainCommand.StopAfterOption();
        var seed = new Option<string?>("--seed")
        {
            Description = "HOST:PORT of a running cluster's seed: the cluster's coordinator continues the run from its newest valid checkpoint " +
                          "(instead of training in this process)",
        };
        var wait = new Option<bool>("--wait") { Description = "With --seed: follow the job until it ends; exit 1 if it fails." };
        var timeout = SubmitCommand.TimeoutOption();
        var (cert, ca, _) = NodeCommand.SecurityOptions();

        var command = new Command("resume",
            "Continue a training run from its newest valid checkpoint (a corrupt newer one is skipped with a log line and kept): " +
            "rewinds OUTPUT/metrics.jsonl to the checkpoint's step and trains on to the job's steps, bitwise as if never stopped on the same partition.")
        {
            run, set, threads, quiet, stopAfter, seed, wait, timeout, cert, ca,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(run)!;
            if (!Directory.Exists(folder)) throw new UserError($"{folder}: run folder not found");
            var overrides = parse.GetValue(set) ?? [];
            if (parse.GetValue(seed) is { } seedText)
            {
                if (parse.GetValue(stopAfter) is not null) throw new UserError("--stop-after is not supported with --seed");
                var seconds = parse.GetValue(timeout);
                if (seconds <= 0) throw new UserError($"--timeout must be > 0 seconds (got {seconds})");
                var job = LocalPipelineTrainer.LoadRunJob(folder, overrides);
                return SubmitCommand.Run(HostPort.Parse(seedText, "--seed"), job, parse.GetValue(wait), parse.GetValue(quiet), TimeSpan.FromSeconds(seconds),
                    NodeCommand.ClientTls(parse, cert, ca), resume: true).GetAwaiter().GetResult();
            }
            TrainCommand.SetThreads(parse.GetValue(threads));
            var stop = TrainCommand.CheckedStopAfter(parse.GetValue(stopAfter));
            // The job's steps size the bar; the checkpoint's step shows with the first report (the ETA times only new steps).
            var steps = LocalPipelineTrainer.LoadRunJob(folder, overrides).Steps;
            using var progress = ProgressSinks.Create(parse.GetValue(quiet));
            progress.Start(Math.Min(steps, stop ?? steps));
            var result = LocalPipelineTrainer.Resume(folder, overrides, console: progress.Messages,
                onStep: m => TrainCommand.Report(progress, m), stopAfter: stop);
            var last = result.Steps.Count > 0 ? result.Steps[^1] : null;
            progress.Finish(last is null
                ? $"nothing to train: the run is already at its last step; adapter: {result.AdapterDirectory}"
                : Invariant($"resumed and trained {result.Steps.Count} steps to step {last.Step}, final loss {last.Loss:0.0000}; adapter: {result.AdapterDirectory}"));
            return 0;
        });
        return command;
    }
}
