using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ShareLoRA.Cli.Formatting;
using ShareLoRA.Training.Metrics;
using ShareLoRA.Training.Trainer;
using Spectre.Console;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// `sharelora summary`: a run's headline figures from its metrics.jsonl (<see cref="RunSummary"/>): loss before and
/// after, eval loss, tokens/s, a cluster run's bytes on the wire for activations and for adapter sync, recovery events,
/// and where the adapter and the plots are. A table on a terminal, aligned text in pipes, an object with --json.
/// </summary>
public static class SummaryCommand
{
    /// <summary>What the eval row says for a run without evaluations (single-process and cluster runs evaluate alike).</summary>
    public const string NoEvalNote = "n/a (the run did not evaluate: data.eval_every is 0 or there is no eval split)";

    /// <summary>What the wire rows say for a single-process run.</summary>
    public const string NoWireNote = "n/a (single process: nothing crossed a wire)";

    /// <summary>The files `sharelora plot` writes, listed when present.</summary>
    public static readonly IReadOnlyList<string> PlotFiles = ["loss.png", "lr.png", "throughput.png"];

    public static Command Create()
    {
        var run = new Option<string>("--run")
        {
            HelpName = "DIR",
            Description = "Run directory holding metrics.jsonl (a train, resume or cluster run's OUTPUT; works on a live run).",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var command = new Command("summary",
            "Summarize a run from its metrics.jsonl: loss at the first and last step, eval loss, tokens/s, bytes on the wire for " +
            "activations and adapter sync (cluster runs), recovery events, the adapter folder and the plots.")
        {
            run, json,
        };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(run)!;
            if (!Directory.Exists(dir)) throw new UserError($"--run: directory not found: {dir}");
            var path = Path.Combine(dir, MetricsLog.FileName);
            var summary = RunSummary.From(MetricsLog.Read(path), path);
            var adapter = Path.Combine(dir, LocalPipelineTrainer.AdapterFolder);
            string? adapterPath = Directory.Exists(adapter) ? adapter : null;
            var plots = PlotFiles.Select(f => Path.Combine(dir, f)).Where(File.Exists).ToList();

            if (parse.GetValue(json))
                Console.Out.WriteLine(Json(dir, summary, adapterPath, plots));
            else if (Terminal.IsInteractive)
                WriteTable(Rows(dir, summary, adapterPath, plots));
            else
            {
                var table = new TextTable(("figure", false), ("value", false));
                foreach (var (label, value) in Rows(dir, summary, adapterPath, plots)) table.Add(label, value);
                Console.Out.Write(table.ToString());
            }
            return 0;
        });
        return command;
    }

    /// <summary>The table's rows, label and value, in the order shown.</summary>
    public static IReadOnlyList<(string Label, string Value)> Rows(string runDir, RunSummary s, string? adapterPath, IReadOnlyList<string> plots)
    {
        var inv = CultureInfo.InvariantCulture;
        var rows = new List<(string, string)>
        {
            ("run", runDir),
            ("steps", $"{s.Steps.ToString(inv)} (step {s.FirstStep.Step.ToString(inv)} to {s.LastStep.Step.ToString(inv)}) in {DurationText.Format(TimeSpan.FromSeconds(s.LastStep.WallSeconds))}"),
            ("train loss", $"{Loss(s.FirstStep.Loss)} (step {s.FirstStep.Step.ToString(inv)}) -> {Loss(s.LastStep.Loss)} (step {s.LastStep.Step.ToString(inv)})"),
            ("eval loss", s.FirstEval is { } first && s.LastEval is { } last
                ? $"{Loss(first.EvalLoss)} (step {first.Step.ToString(inv)}) -> {Loss(last.EvalLoss)} (step {last.Step.ToString(inv)})"
                : NoEvalNote),
            ("tokens/s", $"{s.MeanTokensPerSecond.ToString("#,0", inv)} (mean over steps)"),
            ("activations", Wire(s.ActivationBytes, s.IsClusterRun)),
            ("adapter sync", Wire(s.AdapterSyncBytes, s.IsClusterRun)),
        };
        // A task's metrics (GLUE jobs' dev_*) of the last evaluation, right after the eval loss; no row for LM runs.
        if (s.LastEval is { Metrics: { } metrics } lastEval)
            rows.Insert(4, ("eval metrics", $"{metrics.Describe()} (step {lastEval.Step.ToString(inv)})"));
        if (s.RecoveryEvents.Count > 0)
            rows.Add(("recovery", string.Join(", ", s.RecoveryEvents.Select(e => $"{e.Count.ToString(inv)} {e.Name}"))));
        rows.Add(("adapter", adapterPath ?? "not written (yet)"));
        rows.Add(("plots", plots.Count > 0 ? string.Join(", ", plots) : $"none yet (sharelora plot --run {runDir})"));
        return rows;
    }


    private static string Wire(long? bytes, bool clusterRun) => bytes switch
    {
        { } b => $"{ByteSize.Format(b)} on the wire ({b.ToString("#,0", CultureInfo.InvariantCulture)} B)",
        null when clusterRun => "n/a (not in this run's metrics)",
        null => NoWireNote,
    };

    private static string Loss(double value) => value.ToString(double.IsFinite(value) ? "0.0000" : "", CultureInfo.InvariantCulture);

    private static void WriteTable(IReadOnlyList<(string Label, string Value)> rows)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]run summary[/]");
        table.AddColumn(new TableColumn("[bold]figure[/]").NoWrap());
        table.AddColumn(new TableColumn("[bold]value[/]"));
        foreach (var (label, value) in rows)
            table.AddRow(new Markup($"[bold]{Markup.Escape(label)}[/]"), new Markup(value.StartsWith("n/a", StringComparison.Ordinal)
                ? $"[grey]{Markup.Escape(value)}[/]" : Markup.Escape(value)));
        Terminal.Rich().Write(table);
    }

    private static string Json(string runDir, RunSummary s, string? adapterPath, IReadOnlyList<string> plots)
    {
        static JsonNode? Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture));
        static JsonNode? Eval(EvalPoint? p)
        {
            if (p is null) return null;
            var node = new JsonObject { ["step"] = p.Step, ["loss"] = Number(p.EvalLoss) };
            foreach (var (name, value) in p.Metrics?.Values ?? []) node[name] = Number(value);
            return node;
        }
        var recovery = new JsonObject();
        foreach (var (name, count) in s.RecoveryEvents) recovery[name] = count;
        var root = new JsonObject
        {
            ["run"] = runDir,
            ["steps"] = s.Steps,
            ["first_step"] = s.FirstStep.Step,
            ["last_step"] = s.LastStep.Step,
            ["loss_first"] = Number(s.FirstStep.Loss),
            ["loss_last"] = Number(s.LastStep.Loss),
            ["eval_first"] = Eval(s.FirstEval),
            ["eval_last"] = Eval(s.LastEval),
            ["eval_note"] = s.FirstEval is null ? NoEvalNote : null,
            ["tokens_per_s"] = Math.Round(s.MeanTokensPerSecond, 1),
            ["wall_s"] = s.LastStep.WallSeconds,
            ["cluster_run"] = s.IsClusterRun,
            ["activation_bytes"] = s.ActivationBytes,
            ["adapter_sync_bytes"] = s.AdapterSyncBytes,
            ["recovery_events"] = recovery,
            ["adapter"] = adapterPath,
            ["plots"] = new JsonArray(plots.Select(p => (JsonNode?)JsonValue.Create(p)).ToArray()),
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
