using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ShareLoRA.Cli.Formatting;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Planning;
using Spectre.Console;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// `sharelora plan`: the pipeline partition the coordinator would choose (same <see cref="PartitionPlanner"/>), with
/// per-stage memory, boundary traffic, the schedule's bubble and the adapter sync bytes against plain LoRA. Shape only:
/// it reads at most config.json and never touches tensors. Exit 0 when the plan fits, 3 when it does not, 2 on bad input.
/// </summary>
public static class PlanCommand
{
    /// <summary>Exit code when no partition fits the device memory (distinct from 2, bad input).</summary>
    public const int DoesNotFitExitCode = 3;

    private static readonly IReadOnlyDictionary<string, double> WeightBytes = new Dictionary<string, double>
    {
        ["bf16"] = 2, ["fp16"] = 2, ["fp32"] = 4, ["nf4"] = 0.5,
    };

    public static Command Create()
    {
        var model = new Option<string?>("--model") { HelpName = "DIR", Description = "Hugging Face model directory (reads only its config.json)." };
        var preset = new Option<string?>("--preset") { HelpName = "NAME", Description = "Shape preset instead of a directory: " + string.Join(", ", ModelPresets.Names) + "." };
        var stages = new Option<int>("--stages") { HelpName = "P", Description = "Pipeline stages p (one device each).", Required = true };
        var microBatches = new Option<int>("--micro-batches") { HelpName = "M", Description = "Micro-batches m per optimizer step.", Required = true };
        var microBatchSize = new Option<int>("--micro-batch-size") { HelpName = "B", Description = "Sequences per micro-batch.", Required = true };
        var seqLen = new Option<int>("--seq-len") { HelpName = "S", Description = "Tokens per sequence.", Required = true };
        var method = new Option<string>("--method") { HelpName = "METHOD", Description = "Adapter method: lora, share-a, share-b or share-ab.", Required = true };
        var rank = new Option<int>("--rank") { HelpName = "R", Description = "Adapter rank r.", Required = true };
        var targets = new Option<string>("--targets")
        {
            HelpName = "LIST",
            Description = "Comma-separated target modules (q, k, v, o, gate, up, down).",
            DefaultValueFactory = _ => "q,k,v,o,gate,up,down",
        };
        var schedule = new Option<string>("--schedule")
        {
            Description = "Pipeline schedule, both with a flush per step: 1f1b holds at most p - i micro-batches on stage i, gpipe holds all m.",
            DefaultValueFactory = _ => "1f1b",
        };
        schedule.AcceptOnlyFromAmong("1f1b", "gpipe");
        var deviceMem = new Option<string?>("--device-mem")
        {
            HelpName = "SIZE[,SIZE...]",
            Description = "Memory per device, e.g. 80GB (10^9), 80GiB or 80G (2^30), or bytes; a comma list gives one per stage. " +
                          "Without it memory is unlimited and the plan always fits.",
        };
        var dtype = new Option<string>("--dtype")
        {
            Description = "Frozen base weight dtype: bf16, fp16, fp32 or nf4 (4-bit, quantisation constants ignored). Activations are fp32 with fp32 weights, else 16-bit.",
            DefaultValueFactory = _ => "bf16",
        };
        dtype.AcceptOnlyFromAmong("bf16", "fp16", "fp32", "nf4");
        var wireDtype = new Option<string>("--wire-dtype")
        {
            Description = "Dtype of the shared-matrix gradients and values sent each step: fp32 or bf16.",
            DefaultValueFactory = _ => "fp32",
        };
        wireDtype.AcceptOnlyFromAmong("fp32", "bf16");
        var json = new Option<bool>("--json")
        {
            Description = "Print one JSON object: stages[] (layers as [first, end), *_bytes), bubble_fraction, adapter_sync_bytes, " +
                          "lora_sync_bytes, fits, reason.",
        };

        var command = new Command("plan",
            "Plan the pipeline partition without loading weights: layers, memory and traffic per stage, bubble, adapter sync " +
            "bytes against plain LoRA. Exit code 0 when it fits, 3 when no partition fits the device memory, 2 on bad input.")
        {
            model, preset, stages, microBatches, microBatchSize, seqLen, method, rank, targets, schedule, deviceMem, dtype, wireDtype, json,
        };
        command.SetAction(parse =>
        {
            var (shape, source) = LoadShape(parse.GetValue(model), parse.GetValue(preset));
            var policy = SharingPolicy.Parse(
                parse.GetValue(method)!,
                (parse.GetValue(targets) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            string dtypeName = parse.GetValue(dtype)!, wireName = parse.GetValue(wireDtype)!, scheduleName = parse.GetValue(schedule)!;
            var memory = ParseMemory(parse.GetValue(deviceMem), parse.GetValue(stages));

            var request = new PlanRequest(
                Stages: parse.GetValue(stages),
                MicroBatches: parse.GetValue(microBatches),
                MicroBatchSize: parse.GetValue(microBatchSize),
                SeqLen: parse.GetValue(seqLen),
                ScheduleKind: scheduleName == "gpipe" ? ScheduleKind.GPipe : ScheduleKind.OneFOneB,
                SharingPolicy: policy,
                Rank: parse.GetValue(rank),
                WeightDtypeBytes: WeightBytes[dtypeName],
                DeviceMemoryBytes: memory)
            {
                WireDtypeBytes = wireName == "bf16" ? 2 : 4,
            };

            var (plan, reason) = PlanOrExplain(shape, request);
            var header = $"{source}: {shape.NumLayers} layers, hidden {shape.HiddenSize} | {request.Stages} stages, " +
                         $"{ScheduleName(request.ScheduleKind)}, {request.MicroBatches} micro-batches x {request.MicroBatchSize} x {request.SeqLen} tokens\n" +
                         $"{policy} r={request.Rank} on {string.Join(",", policy.Targets.Select(t => t.ShortName()))} | {dtypeName} weights, {wireName} sync";

            if (parse.GetValue(json))
                Console.Out.WriteLine(Json(plan, reason, source, shape, request, policy, dtypeName, wireName));
            else if (Terminal.IsInteractive)
                WriteRich(plan, reason, header, memory != null);
            else
                Console.Out.Write(PlainText(plan, reason, header, memory != null));

            if (reason is null) return 0;
            Console.Error.WriteLine("error: does not fit: " + reason);
            return DoesNotFitExitCode;
        });
        return command;
    }

    /// <summary>
    /// The planner's plan, or when no partition fits: the compute-balanced split evaluated against the memory (so the
    /// table shows which stages overflow) and the planner's one-line reason.
    /// </summary>
    private static (PartitionPlan Plan, string? Reason) PlanOrExplain(ModelShape shape, PlanRequest request)
    {
        // Without a memory limit the planner only throws for bad input: those are exit 2, not "does not fit".
        var unlimited = PartitionPlanner.Plan(shape, request with { DeviceMemoryBytes = null });
        if (request.DeviceMemoryBytes is null) return (unlimited, null);
        try
        {
            return (PartitionPlanner.Plan(shape, request), null);
        }
        catch (PlanningException e)
        {
            return (PartitionPlanner.Evaluate(shape, request, unlimited.LayerCounts), e.Message);
        }
    }

    private static IReadOnlyList<long>? ParseMemory(string? text, int stages)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 1 && parts.Length != stages)
            throw new UserError($"--device-mem: give one size or one per stage ({stages}), got {parts.Length}");
        return parts.Select(p => ByteSize.Parse(p, "--device-mem")).ToArray();
    }

    private static (ModelShape Shape, string Source) LoadShape(string? model, string? preset)
    {
        if ((model == null) == (preset == null))
            throw new UserError("plan: give exactly one of --model DIR or --preset NAME");
        return model != null ? (ModelShape.FromHfConfigJson(model), model) : (ModelPresets.Get(preset!), preset!.Trim().ToLowerInvariant());
    }

    private static string ScheduleName(ScheduleKind kind) => kind == ScheduleKind.GPipe ? "GPipe" : "1F1B";

    private static string Percent(double fraction) => (100 * fraction).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string Layers(StagePlan s) => s.LayerCount == 1 ? $"{s.FirstLayer}" : $"{s.FirstLayer}-{s.EndLayer - 1}";

    private static string Role(StagePlan s) => (s.HasEmbedding, s.HasHead) switch
    {
        (true, true) => "embed+head",
        (true, false) => "embed",
        (false, true) => "head",
        _ => "",
    };

    /// <summary>The lines under the table: bubble, sync against LoRA, activation traffic, coordinator state, verdict.</summary>
    private static IEnumerable<(string Label, string Value)> Summary(PartitionPlan plan, string? reason, bool hasMemory)
    {
        yield return ("bubble", $"{Percent(plan.BubbleFraction)} of the step idle ({ScheduleName(plan.Schedule.Kind)}, p={plan.Schedule.Stages}, m={plan.Schedule.MicroBatches})");
        string versus = plan.LoraSyncBytes > 0 ? $"{Percent((double)plan.AdapterSyncBytes / plan.LoraSyncBytes)} of" : "vs";
        yield return ("adapter sync", $"{ByteSize.Format(plan.AdapterSyncBytes)}/step ({versus} plain LoRA's {ByteSize.Format(plan.LoraSyncBytes)}/step)");
        yield return ("activations", $"{ByteSize.Format(plan.ActivationTrafficBytes)}/step over {plan.Stages.Count - 1} {(plan.Stages.Count == 2 ? "boundary" : "boundaries")}, forward + backward");
        yield return ("coordinator", $"{ByteSize.Format(plan.CoordinatorOptimizerBytes)} for the shared tensors' fp32 master + AdamW moments");
        var fullest = plan.Stages.MaxBy(s => s.DeviceMemoryBytes is { } d ? (double)s.TotalBytes / d : s.TotalBytes)!;
        string verdict = reason != null
            ? $"NO: no split of the layers over {plan.Stages.Count} stages fits (table: the compute-balanced split; reason on stderr)"
            : hasMemory
                ? $"yes: fullest is stage {fullest.Index} at {ByteSize.Format(fullest.TotalBytes)} of {ByteSize.Format(fullest.DeviceMemoryBytes!.Value)} " +
                  $"({Percent((double)fullest.TotalBytes / fullest.DeviceMemoryBytes.Value)})"
                : $"yes (no --device-mem given; largest stage {ByteSize.Format(fullest.TotalBytes)})";
        yield return ("fits", verdict);
    }

    private static readonly string[] Headers = ["stage", "layers", "holds", "base", "adapters", "optimizer", "activations", "boundary", "total"];

    private static string[] Cells(StagePlan s) =>
    [
        s.Index.ToString(CultureInfo.InvariantCulture), Layers(s), Role(s), ByteSize.Format(s.BaseWeightBytes), ByteSize.Format(s.AdapterBytes),
        ByteSize.Format(s.OptimizerBytes), ByteSize.Format(s.ActivationBytes), s.HasHead ? "-" : ByteSize.Format(s.BoundaryBytes),
        ByteSize.Format(s.TotalBytes),
    ];

    private static string[] MemoryCells(StagePlan s) =>
        [s.DeviceMemoryBytes is { } d ? ByteSize.Format(d) : "-", s.Fits ? "yes" : "NO"];

    /// <summary>Plain aligned text for logs and pipes.</summary>
    internal static string PlainText(PartitionPlan plan, string? reason, string header, bool hasMemory)
    {
        var columns = Headers.Select((h, i) => (h, i != 1 && i != 2)).ToList();
        if (hasMemory) columns.AddRange([("device", true), ("fits", false)]);
        var table = new TextTable([.. columns]);
        foreach (var s in plan.Stages)
            table.Add(hasMemory ? [.. Cells(s), .. MemoryCells(s)] : Cells(s));

        var sb = new System.Text.StringBuilder();
        sb.Append(header).Append('\n').Append('\n').Append(table).Append('\n');
        var summary = Summary(plan, reason, hasMemory).ToList();
        int width = summary.Max(l => l.Label.Length);
        foreach (var (label, value) in summary)
            sb.Append(label.PadRight(width)).Append("  ").Append(value).Append('\n');
        return sb.ToString();
    }

    private static void WriteRich(PartitionPlan plan, string? reason, string header, bool hasMemory)
    {
        var console = Terminal.Rich();
        // A wrapped byte column ("17.9 / GiB") is unreadable: on a terminal too narrow for the table, print plain text.
        var plain = PlainText(plan, reason, header, hasMemory);
        int tableWidth = plain.Split('\n').Skip(3).TakeWhile(l => l.Length > 0).Max(l => l.Length) + 2 * (Headers.Length + 2);
        if (tableWidth > console.Profile.Width)
        {
            console.Profile.Out.Writer.Write(plain);
            return;
        }

        foreach (var line in header.Split('\n')) console.MarkupLine("[bold]" + Markup.Escape(line) + "[/]");
        var table = new Table().Border(TableBorder.Simple);
        for (int i = 0; i < Headers.Length; i++)
        {
            var column = new TableColumn(Headers[i]).NoWrap();
            table.AddColumn(i is 1 or 2 ? column.LeftAligned() : column.RightAligned());
        }
        if (hasMemory)
        {
            table.AddColumn(new TableColumn("device").NoWrap().RightAligned());
            table.AddColumn(new TableColumn("fits").NoWrap());
        }
        foreach (var s in plan.Stages)
        {
            var cells = Cells(s).Select(c => Markup.Escape(c)).ToList();
            if (hasMemory)
            {
                cells.Add(MemoryCells(s)[0]);
                cells.Add(s.Fits ? "[green]yes[/]" : "[red bold]NO[/]");
                if (!s.Fits) cells[^3] = $"[red]{cells[^3]}[/]";
            }
            table.AddRow(cells.ToArray());
        }
        console.Write(table);
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        foreach (var (label, value) in Summary(plan, reason, hasMemory))
        {
            string style = label == "fits" ? (reason == null ? "green" : "red bold") : "default";
            grid.AddRow(new Markup($"[bold]{Markup.Escape(label)}[/]"), new Markup($"[{style}]{Markup.Escape(value)}[/]"));
        }
        console.Write(grid);
    }

    private static string Json(PartitionPlan plan, string? reason, string source, ModelShape shape, PlanRequest request,
        SharingPolicy policy, string dtype, string wireDtype)
    {
        var root = new Dictionary<string, object?>
        {
            ["model"] = source,
            ["num_layers"] = shape.NumLayers,
            ["schedule"] = request.ScheduleKind == ScheduleKind.GPipe ? "gpipe" : "1f1b",
            ["micro_batches"] = request.MicroBatches,
            ["micro_batch_size"] = request.MicroBatchSize,
            ["seq_len"] = request.SeqLen,
            ["method"] = policy.ToString(),
            ["rank"] = request.Rank,
            ["targets"] = policy.Targets.Select(t => t.ShortName()).ToArray(),
            ["dtype"] = dtype,
            ["wire_dtype"] = wireDtype,
            ["stages"] = plan.Stages.Select(s => new Dictionary<string, object?>
            {
                ["index"] = s.Index,
                ["layers"] = new[] { s.FirstLayer, s.EndLayer },
                ["has_embedding"] = s.HasEmbedding,
                ["has_head"] = s.HasHead,
                ["base_weight_bytes"] = s.BaseWeightBytes,
                ["adapter_bytes"] = s.AdapterBytes,
                ["optimizer_bytes"] = s.OptimizerBytes,
                ["activation_bytes"] = s.ActivationBytes,
                ["boundary_bytes"] = s.BoundaryBytes,
                ["total_bytes"] = s.TotalBytes,
                ["device_memory_bytes"] = s.DeviceMemoryBytes,
                ["fits"] = s.Fits,
                ["forward_flops"] = s.ForwardFlops,
                ["backward_flops"] = s.BackwardFlops,
            }).ToArray(),
            ["bubble_fraction"] = plan.BubbleFraction,
            ["shared_parameters"] = plan.SharedParameters,
            ["adapter_sync_bytes"] = plan.AdapterSyncBytes,
            ["lora_sync_bytes"] = plan.LoraSyncBytes,
            ["activation_traffic_bytes"] = plan.ActivationTrafficBytes,
            ["coordinator_optimizer_bytes"] = plan.CoordinatorOptimizerBytes,
            ["fits"] = reason is null && plan.Fits,
            ["reason"] = reason,
        };
        return JsonSerializer.Serialize(root, ModelArguments.Json);
    }
}
