using System.CommandLine;
using ShareLoRA.Cli.Progress;
using static System.FormattableString;
using ShareLoRA.Training.Trainer;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora resume`: continues a `train` run from its newest valid checkpoint, on the same or another partition.</summary>
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

        var command = new Command("resume",
            "Continue a training run from its newest valid checkpoint (a corrupt newer one is skipped with a log line and kept): " +
            "rewinds OUTPUT/metrics.jsonl to the checkpoint's step and trains on to the job's steps, bitwise as if never stopped on the same partition.")
        {
            run, set, threads, quiet, stopAfter,
        };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(run)!;
            if (!Directory.Exists(folder)) throw new UserError($"{folder}: run folder not found");
            var overrides = parse.GetValue(set) ?? [];
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
