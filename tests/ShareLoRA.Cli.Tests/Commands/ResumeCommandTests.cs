using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit;

namespace ShareLoRA.Cli.Tests.Commands;

/// <summary>
/// `sharelora resume` against real processes: a `train` child killed with SIGKILL after its step-4 checkpoint resumes to
/// the uninterrupted run's losses and adapter bytes; train refuses a folder with checkpoints; errors are one line.
/// </summary>
[Collection("Console")]
public sealed class ResumeCommandTests : IDisposable
{
    private readonly TinyModelDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string WriteJob(string output, int steps)
    {
        var model = _dir.Require();
        var data = new StringBuilder();
        var words = new[] { "red", "blue", "cat", "dog", "sun", "tree", "small", "big", "runs", "sleeps", "the", "a" };
        var rng = new Random(3);
        for (int i = 0; i < 48; i++)
        {
            string Sentence(int n) => string.Join(' ', Enumerable.Range(0, n).Select(_ => words[rng.Next(words.Length)]));
            data.AppendLine(JsonSerializer.Serialize(new { instruction = Sentence(6), input = "", output = Sentence(12 + i % 7) }));
        }
        var dataPath = _dir.Write("data/train.jsonl", data.ToString());
        return _dir.Write($"jobs/{Path.GetFileName(output)}.json", $$"""
            {
              "name": "resume-test",
              "model": "{{model}}",
              "data": { "train": "{{dataPath}}", "source_max_len": 32, "target_max_len": 32, "eval_fraction": 0 },
              "adapter": { "method": "share-ab", "rank": 4, "alpha": 8, "dropout": 0.1 },
              "optim": { "lr": 5e-3, "schedule": "linear", "warmup_steps": 2 },
              "batch": { "micro_batch_size": 4, "micro_batches": 2 },
              "steps": {{steps}},
              "seed": 9,
              "output": "{{output}}",
              "pipeline": { "stages": 2 },
              "checkpoint": { "every": 2, "keep": 3 }
            }
            """);
    }

    private static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "sharelora.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        var p = Process.Start(info)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static SortedDictionary<long, string> Losses(string output)
    {
        var result = new SortedDictionary<long, string>();
        foreach (var line in File.ReadAllLines(Path.Combine(output, "metrics.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("event", out _) || !doc.RootElement.TryGetProperty("loss", out var loss)) continue;
            result.Add(doc.RootElement.GetProperty("step").GetInt64(), loss.GetRawText());
        }
        return result;
    }

    [SkippableFact]
    public void A_train_killed_after_a_checkpoint_resumes_bitwise_to_the_uninterrupted_run()
    {
        const int steps = 40;
        var reference = Path.Combine(_dir.Root, "reference");
        var (code, _, err) = CliProcess.Run("train", "--job", WriteJob(reference, steps), "--threads", "1", "--quiet");
        Assert.True(code == 0, err);

        var killed = Path.Combine(_dir.Root, "killed");
        var job = WriteJob(killed, steps);
        using (var child = Start("train", "--job", job, "--threads", "1", "--quiet"))
        {
            var watch = Stopwatch.StartNew();
            var step4 = Path.Combine(killed, "checkpoints", "step-000004");
            while (!Directory.Exists(step4) && !child.HasExited && watch.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(2);
            Assert.False(child.HasExited, "train finished (or failed) before its step-4 checkpoint appeared");
            child.Kill(); // SIGKILL: no cleanup of any kind
            child.WaitForExit();
        }
        Assert.False(Directory.Exists(Path.Combine(killed, "adapter")), "the child finished before the kill; the test proves nothing");
        var lastBefore = Losses(killed).Keys.LastOrDefault();
        Assert.True(lastBefore < steps);

        (code, var stdout, err) = CliProcess.Run("resume", "--run", killed, "--threads", "1", "--quiet");
        Assert.True(code == 0, err);
        Assert.Contains($"to step {steps}", stdout);

        Assert.Equal(Losses(reference), Losses(killed));
        foreach (var file in new[] { "adapter_model.safetensors", "adapter.safetensors" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "adapter", file)), File.ReadAllBytes(Path.Combine(killed, "adapter", file)));
        Assert.Contains("\"event\":\"resume\"", File.ReadAllText(Path.Combine(killed, "metrics.jsonl")));
    }

    [SkippableFact]
    public void Train_over_a_run_with_checkpoints_is_refused_in_one_line_pointing_to_resume()
    {
        var output = Path.Combine(_dir.Root, "taken");
        var job = WriteJob(output, 4);
        var (code, _, err) = CliRun.Run("train", "--job", job, "--threads", "1", "--quiet", "--stop-after", "2");
        Assert.True(code == 0, err);
        (code, _, err) = CliRun.Run("train", "--job", job, "--threads", "1", "--quiet");
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains($"sharelora resume --run {output}", err);

        (code, var stdout, err) = CliRun.Run("resume", "--run", output, "--threads", "1", "--quiet", "--set", "pipeline.stages=1");
        Assert.True(code == 0, err);
        Assert.Contains("to step 4", stdout);
        (code, _, err) = CliRun.Run("train", "--job", job, "--threads", "1", "--quiet", "--overwrite");
        Assert.True(code == 0, err);
    }

    [Fact]
    public void Resume_of_a_folder_without_a_run_is_one_error_line()
    {
        var empty = Path.Combine(_dir.Root, "empty");
        Directory.CreateDirectory(empty);
        var (code, _, err) = CliRun.Run("resume", "--run", empty);
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("job.json", err);
    }

    [Fact]
    public void Resume_on_a_cluster_without_a_job_json_or_with_stop_after_is_one_error_line()
    {
        var empty = Path.Combine(_dir.Root, "empty-cluster");
        Directory.CreateDirectory(empty);
        var (code, _, err) = CliRun.Run("resume", "--run", empty, "--seed", "127.0.0.1:1");
        Assert.Equal(2, code);
        Assert.Single(err.Trim().Split('\n'));
        Assert.Contains("job.json", err);

        (code, _, err) = CliRun.Run("resume", "--run", empty, "--seed", "127.0.0.1:1", "--stop-after", "2");
        Assert.Equal(2, code);
        Assert.Contains("--stop-after is not supported with --seed", err);
    }
}
