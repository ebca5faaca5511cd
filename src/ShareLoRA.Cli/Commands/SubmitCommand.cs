using System.CommandLine;
using static System.FormattableString;
using ShareLoRA.Cli.Progress;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Training.Jobs;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora submit`: sends a job to a running cluster's coordinator and, with --wait, follows it to the end.</summary>
public static class SubmitCommand
{
    /// <summary>Exit code of `submit --wait` when the job failed on the cluster.</summary>
    public const int JobFailed = 1;

    /// <summary>The --timeout option of submit and `resume --seed`.</summary>
    internal static Option<double> TimeoutOption() => new("--timeout")
    {
        Description = "Seconds to wait for each answer of the coordinator (with --wait, the job may take any time).",
        DefaultValueFactory = _ => 30,
    };

    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(500);

    public static Command Create()
    {
        var seed = new Option<string>("--seed") { Description = "HOST:PORT of the cluster's seed node, e.g. 10.0.0.1:4053.", Required = true };
        var job = new Option<string>("--job") { Description = "Job file (JSON with // comments; see jobs/example-llama3-8b-share-a.json).", Required = true };
        var set = new Option<string[]>("--set")
        {
            Description = "Override a job field before validation, e.g. --set pipeline.stages=3 (repeatable).",
            AllowMultipleArgumentsPerToken = false,
        };
        var wait = new Option<bool>("--wait") { Description = "Follow the job's progress until it ends; exit 1 if it fails." };
        var quiet = new Option<bool>("--quiet") { Description = "With --wait: no progress display, only the final line (and the error when the job fails)." };
        var timeout = TimeoutOption();
        var (cert, ca, _) = NodeCommand.SecurityOptions();
        var command = new Command("submit",
            "Submit a training job to a running cluster (its coordinator plans the stages over the workers); paths in the job are " +
            "resolved here and must exist at the same place on the seed and the workers.")
        {
            seed, job, set, wait, quiet, timeout, cert, ca,
        };
        command.SetAction(parse =>
        {
            var seedAddress = HostPort.Parse(parse.GetValue(seed)!, "--seed");
            var seconds = parse.GetValue(timeout);
            if (seconds <= 0) throw new UserError($"--timeout must be > 0 seconds (got {seconds})");
            var tls = NodeCommand.ClientTls(parse, cert, ca);
            var config = JobConfig.Load(parse.GetValue(job)!, parse.GetValue(set) ?? []);
            return Run(seedAddress, config, parse.GetValue(wait), parse.GetValue(quiet), TimeSpan.FromSeconds(seconds), tls).GetAwaiter().GetResult();
        });
        return command;
    }

    /// <summary>Sends the job (with <paramref name="resume"/>: to continue from its newest valid checkpoint) and, with
    /// <paramref name="wait"/>, follows it; `sharelora resume --seed` shares this.</summary>
    internal static async Task<int> Run(HostPort seed, JobConfig job, bool wait, bool quiet, TimeSpan timeout, ClusterTls? tls, bool resume = false)
    {
        await using var client = CoordinatorClient.Connect(seed, tls: tls);
        CoordinatorProtocol.JobAccepted accepted;
        try
        {
            accepted = await client.SubmitAsync(job.ToJson(), timeout, resume);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            throw new UserError(e.Message);
        }
        Console.Out.WriteLine($"job {accepted.JobId} {(resume ? "resumed" : "submitted")}: {accepted.Steps} steps on {job.Pipeline.Stages} stage(s); output {job.Output}");
        if (!wait) return 0;

        using var progress = ProgressSinks.Create(quiet);
        progress.Start(accepted.Steps);
        string lastMessage = "";
        int lastStep = 0, misses = 0;
        int? lastEvalStep = null;
        while (true)
        {
            JobStatus status;
            try
            {
                status = await client.StatusAsync(timeout);
                misses = 0;
            }
            catch (TimeoutException e)
            {
                // One lost answer is not a failure; a coordinator silent for several timeouts is.
                if (++misses >= 3) throw new UserError($"lost contact with the coordinator: {e.Message}");
                continue;
            }
            if (status.JobId != accepted.JobId)
            {
                Console.Error.WriteLine($"error: the coordinator no longer knows job {accepted.JobId} (it reports {status.JobId ?? "no job"})");
                return JobFailed;
            }
            if (status.EvalStep is { } evalStep && evalStep != lastEvalStep && status.EvalLoss is { } evalLoss)
            {
                // The baseline before training has no step to show it on; later ones go beside their step.
                if (evalStep == 0) progress.Messages.WriteLine(Invariant($"step 0: eval loss {evalLoss:0.0000}") + MetricsSuffix(status));
                lastEvalStep = evalStep;
            }
            if (status.Step > lastStep && status.Loss is { } loss)
            {
                var eval = status.EvalStep == status.Step && status.EvalLoss is { } e ? Invariant($"eval {e:0.0000}") + MetricsSuffix(status) : null;
                progress.Report(status.Step, loss, status.TokensPerSecond, eval);
                lastStep = status.Step;
            }
            if (status.State != JobStatus.Running && status.Message != lastMessage && !status.IsFinished)
                progress.Messages.WriteLine($"job {status.JobId}: {status.State}: {status.Message}");
            lastMessage = status.Message;
            if (status.State == JobStatus.Completed)
            {
                var finalEval = status.EvalLoss is { } fe ? Invariant($", eval loss {fe:0.0000}") + MetricsSuffix(status) + $" (step {status.EvalStep})" : "";
                progress.Finish(Invariant($"job {status.JobId} completed: {status.Step} steps, final loss {status.Loss:0.0000}{finalEval}; output {status.Output}"));
                return 0;
            }
            if (status.State == JobStatus.Failed)
            {
                progress.Dispose();
                Console.Error.WriteLine($"error: job {status.JobId} failed: {status.Message}");
                return JobFailed;
            }
            await Task.Delay(PollEvery);
        }
    }

    // ", accuracy 0.5000, f1 0.6667" after an eval loss when the job has task metrics, else nothing.
    private static string MetricsSuffix(JobStatus status) => status.DescribeEvalMetrics() is { } m ? ", " + m : "";
}
