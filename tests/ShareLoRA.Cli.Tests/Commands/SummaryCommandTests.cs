using System.Text.Json;
using Xunit;

namespace ShareLoRA.Cli.Tests.Commands;

[Collection("Console")]
public sealed class SummaryCommandTests : IDisposable
{
    private readonly string _run = Directory.CreateTempSubdirectory("sharelora-summary-").FullName;

    public void Dispose() => Directory.Delete(_run, recursive: true);

    private void Metrics(params string[] lines) => File.WriteAllText(Path.Combine(_run, "metrics.jsonl"), string.Join("\n", lines) + "\n");

    private static string Step(int step, double loss, double tps, double wall, string more = "") =>
        $$"""{"step":{{step}},"loss":{{loss}},"lr":0.001,"grad_norm":1.0,"clip_coefficient":1,"tokens":100,"target_tokens":50,"tokens_per_s":{{tps}},"wall_s":{{wall}}{{more}}}""";

    private JsonElement Json()
    {
        var (code, stdout, stderr) = CliRun.Run("summary", "--run", _run, "--json");
        Assert.True(code == 0, stderr);
        return JsonDocument.Parse(stdout).RootElement;
    }

    [Fact]
    public void A_cluster_run_sums_its_wire_bytes_counts_recovery_events_and_says_it_did_not_evaluate()
    {
        Metrics(
            Step(1, 5.0, 100, 1.0, ""","bubble_fraction":0.5,"activation_bytes":1000,"adapter_sync_bytes":64"""),
            Step(2, 4.0, 200, 2.0, ""","bubble_fraction":0.5,"activation_bytes":1000,"adapter_sync_bytes":64"""),
            """{"event":"worker_lost","step":2,"node":"akka.tcp://sharelora@127.0.0.1:4100"}""",
            """{"event":"recovered","step":2,"stages":2}""",
            Step(3, 3.0, 300, 9.5, ""","bubble_fraction":0.5,"activation_bytes":1048576,"adapter_sync_bytes":64"""),
            """{"event":"checkpoint","step":3,"save_ms":12.5,"bytes":4096}""");

        var json = Json();
        Assert.Equal(3, json.GetProperty("steps").GetInt32());
        Assert.Equal(5.0, json.GetProperty("loss_first").GetDouble());
        Assert.Equal(3.0, json.GetProperty("loss_last").GetDouble());
        Assert.Equal(200.0, json.GetProperty("tokens_per_s").GetDouble());
        Assert.True(json.GetProperty("cluster_run").GetBoolean());
        Assert.Equal(1_050_576, json.GetProperty("activation_bytes").GetInt64());
        Assert.Equal(192, json.GetProperty("adapter_sync_bytes").GetInt64());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("eval_first").ValueKind);
        Assert.Equal("n/a (the run did not evaluate: data.eval_every is 0 or there is no eval split)", json.GetProperty("eval_note").GetString());
        Assert.Equal("""{"worker_lost":1,"recovered":1}""", json.GetProperty("recovery_events").GetRawText().Replace(" ", "").Replace("\n", ""));
        Assert.Equal(JsonValueKind.Null, json.GetProperty("adapter").ValueKind);
        Assert.Equal(0, json.GetProperty("plots").GetArrayLength());

        var (code, text, _) = CliRun.Run("summary", "--run", _run);
        Assert.Equal(0, code);
        var rows = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(rows, r => r.StartsWith("train loss") && r.EndsWith("5.0000 (step 1) -> 3.0000 (step 3)"));
        Assert.Contains(rows, r => r.StartsWith("eval loss") && r.EndsWith("n/a (the run did not evaluate: data.eval_every is 0 or there is no eval split)"));
        Assert.Contains(rows, r => r.StartsWith("activations") && r.EndsWith("1.00 MiB on the wire (1,050,576 B)"));
        Assert.Contains(rows, r => r.StartsWith("adapter sync") && r.EndsWith("192 B on the wire (192 B)"));
        Assert.Contains(rows, r => r.StartsWith("recovery") && r.EndsWith("1 worker_lost, 1 recovered"));
        Assert.Contains(rows, r => r.StartsWith("steps") && r.EndsWith("3 (step 1 to 3) in 10s"));
    }

    [Fact]
    public void A_single_process_run_shows_its_first_and_last_evaluation_adapter_and_plots_and_no_wire()
    {
        Metrics(
            """{"step":0,"eval_loss":6.5}""",
            Step(1, 6.4, 100, 0.5),
            Step(2, 6.0, 300, 1.0, ""","eval_loss":6.1"""),
            """{"event":"checkpoint","step":2,"save_ms":3.5,"bytes":100}""",
            """{"event":"resume","step":2,"from_step":2,"checkpoint":"step-000002","stages_before":1,"stages":2}""",
            Step(3, 5.5, 200, 1.5),
            Step(4, 5.0, 200, 2.0, ""","eval_loss":5.25"""));
        Directory.CreateDirectory(Path.Combine(_run, "adapter"));
        File.WriteAllText(Path.Combine(_run, "loss.png"), "");
        File.WriteAllText(Path.Combine(_run, "throughput.png"), "");

        var json = Json();
        Assert.Equal((0, 6.5), (json.GetProperty("eval_first").GetProperty("step").GetInt32(), json.GetProperty("eval_first").GetProperty("loss").GetDouble()));
        Assert.Equal((4, 5.25), (json.GetProperty("eval_last").GetProperty("step").GetInt32(), json.GetProperty("eval_last").GetProperty("loss").GetDouble()));
        Assert.Equal(JsonValueKind.Null, json.GetProperty("eval_note").ValueKind);
        Assert.False(json.GetProperty("cluster_run").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("activation_bytes").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("adapter_sync_bytes").ValueKind);
        Assert.Equal(1, json.GetProperty("recovery_events").GetProperty("resume").GetInt32());
        Assert.Equal(Path.Combine(_run, "adapter"), json.GetProperty("adapter").GetString());
        Assert.Equal([Path.Combine(_run, "loss.png"), Path.Combine(_run, "throughput.png")],
            json.GetProperty("plots").EnumerateArray().Select(p => p.GetString()));

        var (_, text, _) = CliRun.Run("summary", "--run", _run);
        var rows = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(rows, r => r.StartsWith("eval loss") && r.EndsWith("6.5000 (step 0) -> 5.2500 (step 4)"));
        Assert.Contains(rows, r => r.StartsWith("activations") && r.EndsWith("n/a (single process: nothing crossed a wire)"));
        Assert.Contains(rows, r => r.StartsWith("tokens/s") && r.EndsWith("200 (mean over steps)"));
    }

    [Fact]
    public void A_glue_run_shows_its_last_dev_metrics_beside_the_eval_loss()
    {
        Metrics(
            """{"step":0,"eval_loss":0.7,"dev_pearson":0.125,"dev_spearman":0.25}""",
            Step(1, 0.9, 100, 0.5, ""","eval_loss":0.6,"dev_pearson":0.5,"dev_spearman":0.375"""));
        var json = Json();
        Assert.Equal(0.5, json.GetProperty("eval_last").GetProperty("dev_pearson").GetDouble());
        Assert.Equal(0.125, json.GetProperty("eval_first").GetProperty("dev_pearson").GetDouble());
        var (_, text, _) = CliRun.Run("summary", "--run", _run);
        var rows = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(rows, r => r.StartsWith("eval metrics") && r.EndsWith("pearson 0.5000, spearman 0.3750 (step 1)"));
    }

    [Fact]
    public void A_run_without_evaluation_says_so_rather_than_inventing_a_figure()
    {
        Metrics(Step(1, 2.0, 10, 1.0), Step(2, 1.5, 10, 2.0));
        Assert.Equal("n/a (the run did not evaluate: data.eval_every is 0 or there is no eval split)", Json().GetProperty("eval_note").GetString());
        Assert.Empty(Json().GetProperty("recovery_events").EnumerateObject());
    }

    [Fact]
    public void A_live_run_with_a_half_written_last_line_summarizes_the_whole_lines()
    {
        File.WriteAllText(Path.Combine(_run, "metrics.jsonl"), Step(1, 2.0, 10, 1.0) + "\n" + Step(2, 1.5, 10, 2.0) + "\n{\"step\":3,\"lo");
        Assert.Equal(2, Json().GetProperty("last_step").GetInt32());
    }

    [Fact]
    public void No_steps_yet_or_no_run_folder_is_one_error_line()
    {
        Metrics("""{"step":0,"eval_loss":6.5}""");
        var (code, _, stderr) = CliRun.Run("summary", "--run", _run);
        Assert.Equal(2, code);
        Assert.Equal($"error: {Path.Combine(_run, "metrics.jsonl")}: no step lines yet; nothing to summarize", stderr.Trim());

        (code, _, stderr) = CliRun.Run("summary", "--run", Path.Combine(_run, "missing"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: --run: directory not found", stderr);
    }
}
