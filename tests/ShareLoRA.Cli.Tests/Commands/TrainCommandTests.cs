using ShareLoRA.TestSupport;
using Xunit;

namespace ShareLoRA.Cli.Tests.Commands;

[Collection("Console")]
public class TrainCommandTests
{
    private static string DemoJob => Path.Combine(SharedAssets.RepoRoot, "jobs", "tiny-share-a.json");

    [SkippableFact]
    public void Train_runs_the_demo_job_and_prints_plain_progress_lines()
    {
        var model = SharedAssets.Stories260K;
        var data = SharedAssets.RequireDirectory("data/alpaca-libre/alpaca_libre_tasks_v3.jsonl");
        var output = Path.Combine(Path.GetTempPath(), "sharelora-cli-train-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, stderr) = CliRun.Run("train", "--job", DemoJob, "--set", $"model={model}", "--set", $"data.train={data}",
                "--set", $"output={output}", "--set", "steps=2", "--set", "data.eval_every=0", "--set", "data.source_max_len=32",
                "--set", "data.target_max_len=32", "--threads", "1");
            Assert.True(code == 0, stderr);
            // Not a terminal (the test host's stdout is a pipe): plain lines, the first and the last step at least.
            Assert.Matches(@"(?m)^step 1/2 \(50\.0%\)  loss \d+\.\d{4}  [\d,]+ tok/s  elapsed \d+s  eta \?  lr 2\.0e-3  grad \d+\.\d{3}$", stdout);
            Assert.Matches(@"(?m)^step 2/2 \(100\.0%\)  loss \d+\.\d{4}  [\d,]+ tok/s  elapsed \d+s  eta 0s  lr 2\.0e-3  grad \d+\.\d{3}$", stdout);
            Assert.Matches(@"(?m)^trained 2 steps, final loss \d+\.\d{4}; adapter: .+ \(\d+s\)$", stdout);
            // The run log's Information lines still reach the console, in order with the progress lines.
            Assert.True(stdout.IndexOf("plan: ", StringComparison.Ordinal) < stdout.IndexOf("step 1/2", StringComparison.Ordinal), stdout);
            Assert.True(File.Exists(Path.Combine(output, "adapter", "adapter_model.safetensors")));
            Assert.True(File.Exists(Path.Combine(output, "metrics.jsonl")));
            Assert.True(File.Exists(Path.Combine(output, "train.log")));
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public void Steps_and_epochs_overrides_together_are_one_error_line_naming_both()
    {
        var (code, _, stderr) = CliRun.Run("train", "--job", DemoJob, "--set", "steps=2", "--set", "epochs=1");
        Assert.Equal(2, code);
        Assert.Equal($"error: {DemoJob}: --set steps=2 and --set epochs=1: give either steps or epochs, not both", stderr.Trim());
    }

    [Fact]
    public void A_bad_override_is_one_error_line_with_exit_code_2()
    {
        var (code, _, stderr) = CliRun.Run("train", "--job", DemoJob, "--set", "adapter.rank=0");
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains("adapter.rank", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void A_missing_model_is_one_error_line_naming_it()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"));
        var output = Path.Combine(Path.GetTempPath(), "sharelora-cli-train-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, _, stderr) = CliRun.Run("train", "--job", DemoJob, "--set", $"model={missing}", "--set", $"output={output}", "--quiet");
            Assert.Equal(2, code);
            Assert.Contains(missing, stderr);
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }
}
