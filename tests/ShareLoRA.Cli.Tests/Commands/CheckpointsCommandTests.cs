using System.Text.Json;
using ShareLoRA.Training.Checkpoints;
using ShareLoRA.Training.Data;
using Xunit;
using static TorchSharp.torch;

namespace ShareLoRA.Cli.Tests.Commands;

[Collection("Console")]
public sealed class CheckpointsCommandTests : IDisposable
{
    private readonly string _run = Path.Combine(Path.GetTempPath(), "sharelora-cli-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointsCommandTests() => Directory.CreateDirectory(_run);

    public void Dispose()
    {
        try { Directory.Delete(_run, recursive: true); }
        catch (IOException) { }
    }

    private void Save(long step, double? evalLoss = null)
    {
        using var a = ones(4, 4);
        new CheckpointStore(_run).Save(new CheckpointContent(step, new DataCursor(0, (int)step), new CheckpointRngState(1, step),
            """{ "name": "t" }""", CheckpointPlan.SingleStage(2, "1f1b", 1), new CheckpointMetrics(0.5, evalLoss),
            new Dictionary<string, IReadOnlyDictionary<string, Tensor>> { [CheckpointFiles.Adapter] = new Dictionary<string, Tensor> { ["a"] = a } }));
    }

    [Fact]
    public void JsonListsEveryCheckpointWithItsStatus()
    {
        Save(100);
        Save(1_000_000);
        File.Delete(Path.Combine(_run, "checkpoints", "step-1000000", CheckpointFiles.Adapter));

        var (code, stdout, stderr) = CliRun.Run("checkpoints", "--run", _run, "--json");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        using var doc = JsonDocument.Parse(stdout);
        var items = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal([100L, 1_000_000L], items.Select(i => i.GetProperty("step").GetInt64()));
        Assert.Equal(["step", "name", "created_utc", "bytes", "valid", "reason", "eval_loss", "best"], items[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(JsonValueKind.Null, items[0].GetProperty("eval_loss").ValueKind);
        Assert.False(items[0].GetProperty("best").GetBoolean());
        Assert.True(items[0].GetProperty("valid").GetBoolean());
        Assert.Equal(JsonValueKind.Null, items[0].GetProperty("reason").ValueKind);
        Assert.True(items[0].GetProperty("bytes").GetInt64() > 64);
        Assert.False(items[1].GetProperty("valid").GetBoolean());
        Assert.Equal("adapter.safetensors missing", items[1].GetProperty("reason").GetString());
    }

    [Fact]
    public void TablePrintsStepTimeSizeAndStatus()
    {
        Save(200);
        var (code, stdout, _) = CliRun.Run("checkpoints", "--run", _run);
        Assert.Equal(0, code);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^\s+step\s+created \(UTC\)\s+size\s+status$", lines[0]);
        Assert.Matches(@"^\s+200\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+[\d.]+ (B|KiB)\s+valid$", lines[1]);
    }

    [Fact]
    public void TheBestCheckpointByEvalLossIsMarkedInTableAndJson()
    {
        Save(100, 0.8);
        Save(200, 0.3);
        Save(300, 0.6);
        var (code, stdout, _) = CliRun.Run("checkpoints", "--run", _run);
        Assert.Equal(0, code);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.EndsWith("  valid", lines[1]);
        Assert.EndsWith("  valid, best (eval loss 0.300000)", lines[2]);
        Assert.EndsWith("  valid", lines[3]);

        (code, stdout, _) = CliRun.Run("checkpoints", "--run", _run, "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        var items = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal([false, true, false], items.Select(i => i.GetProperty("best").GetBoolean()));
        Assert.Equal([0.8, 0.3, 0.6], items.Select(i => i.GetProperty("eval_loss").GetDouble()));
    }

    [Fact]
    public void EmptyRunSaysSoAndMissingRunIsAnError()
    {
        var (code, stdout, _) = CliRun.Run("checkpoints", "--run", _run);
        Assert.Equal(0, code);
        Assert.Equal($"no checkpoints in {Path.Combine(_run, "checkpoints")}", stdout.Trim());

        var missing = Path.Combine(_run, "nope");
        (code, _, var stderr) = CliRun.Run("checkpoints", "--run", missing);
        Assert.Equal(2, code);
        Assert.Equal($"error: --run {missing}: folder not found", stderr.Trim());
    }
}
