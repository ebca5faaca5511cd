using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using ShareLoRA.Cli.Commands;
using ShareLoRA.Model.Adapters;
using ShareLoRA.Training.Adapters;
using ShareLoRA.Training.Planning;
using Xunit;
using Xunit.Abstractions;

namespace ShareLoRA.Cli.Tests.Commands;

[Collection("Console")]
public class PlanCommandTests(ITestOutputHelper output)
{
    private static readonly string[] Llama3_8b4Stages =
    [
        "plan", "--preset", "llama3-8b", "--stages", "4", "--micro-batches", "8", "--micro-batch-size", "1", "--seq-len", "2048",
        "--method", "share-a", "--rank", "64",
    ];

    private static (int Code, string Out, string Err) Plan(params string[] extra) => CliRun.Run([.. Llama3_8b4Stages, .. extra]);

    [Fact]
    public void Llama3_8b_on_4_stages_json_has_every_field_covers_the_layers_and_fits_80GB()
    {
        var (code, stdout, stderr) = Plan("--device-mem", "80GB", "--json");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        var stages = root.GetProperty("stages").EnumerateArray().ToList();
        Assert.Equal(4, stages.Count);

        int expectedFirst = 0;
        foreach (var stage in stages)
        {
            var layers = stage.GetProperty("layers").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(2, layers.Length);
            Assert.Equal(expectedFirst, layers[0]);
            Assert.True(layers[1] > layers[0], $"stage has no layers: [{layers[0]}, {layers[1]})");
            expectedFirst = layers[1];
            foreach (var field in new[] { "base_weight_bytes", "adapter_bytes", "optimizer_bytes", "activation_bytes" })
                Assert.True(stage.GetProperty(field).GetInt64() > 0, field);
            Assert.True(stage.GetProperty("boundary_bytes").GetInt64() >= 0);
            Assert.Equal(80_000_000_000L, stage.GetProperty("device_memory_bytes").GetInt64());
        }
        Assert.Equal(32, expectedFirst);
        // Only the last stage sends nothing forward; 1 x 2048 tokens x 4096 x bf16 = 16 MiB per boundary.
        Assert.Equal([16L << 20, 16L << 20, 16L << 20, 0L], stages.Select(s => s.GetProperty("boundary_bytes").GetInt64()));

        double bubble = root.GetProperty("bubble_fraction").GetDouble();
        Assert.InRange(bubble, 0.0, 1.0);
        long sync = root.GetProperty("adapter_sync_bytes").GetInt64(), lora = root.GetProperty("lora_sync_bytes").GetInt64();
        Assert.True(sync > 0 && sync < lora, $"share-a sync {sync} should be below LoRA's {lora}");
        Assert.True(root.GetProperty("fits").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("reason").ValueKind);
    }

    [Fact]
    public void Json_is_the_partition_planners_own_plan()
    {
        var (_, stdout, _) = Plan("--device-mem", "80GB", "--wire-dtype", "bf16", "--json");
        using var doc = JsonDocument.Parse(stdout);
        var request = new PlanRequest(4, 8, 1, 2048, ScheduleKind.OneFOneB,
            SharingPolicy.For(AdapterMethod.ShareA, TargetModules.All), 64, 2, [80_000_000_000L]) { WireDtypeBytes = 2 };
        var plan = PartitionPlanner.Plan(ModelPresets.Get("llama3-8b"), request);
        var stages = doc.RootElement.GetProperty("stages").EnumerateArray().ToList();
        Assert.Equal(plan.Stages.Select(s => s.EndLayer), stages.Select(s => s.GetProperty("layers")[1].GetInt32()));
        Assert.Equal(plan.Stages.Select(s => s.ActivationBytes), stages.Select(s => s.GetProperty("activation_bytes").GetInt64()));
        Assert.Equal(plan.AdapterSyncBytes, doc.RootElement.GetProperty("adapter_sync_bytes").GetInt64());
        Assert.Equal(plan.LoraSyncBytes, doc.RootElement.GetProperty("lora_sync_bytes").GetInt64());
        Assert.Equal(plan.BubbleFraction, doc.RootElement.GetProperty("bubble_fraction").GetDouble(), 12);
    }

    [Fact]
    public void Llama3_8b_does_not_fit_8GB_exits_3_with_the_reason()
    {
        var (code, stdout, stderr) = Plan("--device-mem", "8GB", "--json");
        Assert.Equal(PlanCommand.DoesNotFitExitCode, code);
        Assert.Equal(3, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.False(doc.RootElement.GetProperty("fits").GetBoolean());
        Assert.Contains("needs", doc.RootElement.GetProperty("reason").GetString());
        Assert.Contains(doc.RootElement.GetProperty("stages").EnumerateArray(), s => !s.GetProperty("fits").GetBoolean());
        var line = stderr.TrimEnd();
        Assert.StartsWith("error: does not fit: stage ", line);
        Assert.Contains("but its device has 7.45 GiB", line);
        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
    }

    [Fact]
    public void Text_output_is_a_plain_aligned_table_with_the_summary()
    {
        var (code, stdout, stderr) = Plan("--device-mem", "80GiB");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.DoesNotContain('\u001b', stdout); // not a terminal: no ANSI escapes
        var lines = stdout.Split('\n');
        var header = lines.Single(l => l.StartsWith("stage  layers"));
        foreach (var column in new[] { "base", "adapters", "optimizer", "activations", "boundary", "total", "device", "fits" })
            Assert.Contains(column, header);
        Assert.Contains(lines, l => l.TrimStart().StartsWith("0  0-") && l.Contains("GiB") && l.EndsWith("yes"));
        Assert.Contains(lines, l => l.TrimStart().StartsWith("3  ") && l.Contains("-31") && l.Contains("head"));
        Assert.Contains(lines, l => l.StartsWith("bubble ") && l.Contains('%'));
        Assert.Contains(lines, l => l.StartsWith("adapter sync ") && l.Contains("plain LoRA"));
        Assert.Contains(lines, l => l.StartsWith("fits ") && l.Contains("yes") && l.Contains("of 80.0 GiB"));
        Assert.All(lines, l => Assert.Equal(l.TrimEnd(), l));
    }

    [Fact]
    public void Text_output_when_it_does_not_fit_marks_the_stages_and_exits_3()
    {
        var (code, stdout, stderr) = Plan("--device-mem", "8GB");
        Assert.Equal(3, code);
        Assert.Contains(stdout.Split('\n'), l => l.StartsWith("fits ") && l.Contains("NO"));
        Assert.Contains(stdout.Split('\n'), l => l.EndsWith("NO"));
        Assert.StartsWith("error: does not fit: ", stderr);
    }

    [Theory]
    [InlineData("--device-mem", "lots", "error: --device-mem: expected a size such as 80GB, 80GiB, 24G or 1073741824 bytes (got 'lots')")]
    [InlineData("--device-mem", "80GB,80GB", "error: --device-mem: give one size or one per stage (4), got 2")]
    [InlineData("--stages", "33", "error: plan: cannot split 32 layers into 33 stages (each stage needs at least one layer)")]
    [InlineData("--rank", "0", "error: plan: rank must be > 0 (got 0)")]
    public void Bad_input_exits_2_with_one_line(string option, string value, string expected)
    {
        var args = Llama3_8b4Stages.ToList();
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value; else args.AddRange([option, value]);
        var (code, stdout, stderr) = CliRun.Run([.. args]);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Equal(expected, stderr.TrimEnd());
    }

    [Fact]
    public void Bad_schedule_is_rejected_by_the_parser_naming_the_choices()
    {
        var (code, _, stderr) = Plan("--schedule", "zigzag");
        Assert.Equal(2, code);
        Assert.Contains("zigzag", stderr);
        Assert.Contains("1f1b", stderr);
    }

    [Fact]
    public void Per_stage_device_memory_is_accepted()
    {
        var (code, stdout, _) = Plan("--device-mem", "80GiB,80GiB,40GiB,40GiB", "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal([80L << 30, 80L << 30, 40L << 30, 40L << 30],
            doc.RootElement.GetProperty("stages").EnumerateArray().Select(s => s.GetProperty("device_memory_bytes").GetInt64()));
    }

    /// <summary>
    /// The llama3-70b plan is shape-only: run in its own load context, the plan command never loads TorchSharp, so it
    /// cannot allocate a tensor. The time is printed, not asserted.
    /// </summary>
    [Fact]
    public void Llama3_70b_plan_never_loads_TorchSharp()
    {
        var dir = Path.GetDirectoryName(typeof(PlanCommand).Assembly.Location)!;
        var context = new DirectoryLoadContext(dir);
        try
        {
            var cli = context.LoadFromAssemblyPath(Path.Combine(dir, "sharelora.dll"));
            var create = cli.GetType("ShareLoRA.Cli.Commands.PlanCommand", throwOnError: true)!.GetMethod("Create")!;
            object command = create.Invoke(null, null)!;
            var parse = command.GetType().GetMethods().Single(m => m.Name == "Parse" && m.GetParameters() is [{ ParameterType.IsGenericType: true }, _]);
            string[] args =
            [
                "--preset", "llama3-70b", "--stages", "8", "--micro-batches", "16", "--micro-batch-size", "1", "--seq-len", "2048",
                "--method", "share-a", "--rank", "64", "--device-mem", "80GiB", "--json",
            ];
            object parsed = parse.Invoke(command, [args, null])!;
            var invoke = parsed.GetType().GetMethods().Single(m => m.Name == "Invoke" && m.GetParameters().Length == 1);

            var (oldOut, oldErr, stdout, stderr) = (Console.Out, Console.Error, new StringWriter(), new StringWriter());
            Console.SetOut(stdout);
            Console.SetError(stderr);
            var watch = Stopwatch.StartNew();
            int code;
            try { code = (int)invoke.Invoke(parsed, [null])!; }
            finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
            watch.Stop();
            output.WriteLine($"llama3-70b plan (8 stages, first run in a fresh load context): {watch.Elapsed.TotalMilliseconds:0} ms, exit {code}");

            Assert.Equal("", stderr.ToString());
            Assert.Equal(0, code);
            using var doc = JsonDocument.Parse(stdout.ToString());
            Assert.Equal(80, doc.RootElement.GetProperty("stages")[7].GetProperty("layers")[1].GetInt32());
            var loaded = context.Assemblies.Select(a => a.GetName().Name).ToList();
            Assert.Contains("ShareLoRA.Training", loaded); // the context really ran the planner
            Assert.DoesNotContain("TorchSharp", loaded);
        }
        finally
        {
            context.Unload();
        }
    }

    /// <summary>Loads the app's own assemblies from its directory, framework assemblies from the default context.</summary>
    private sealed class DirectoryLoadContext(string dir) : AssemblyLoadContext("plan-isolation", isCollectible: true)
    {
        protected override Assembly? Load(AssemblyName name)
        {
            var path = Path.Combine(dir, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
