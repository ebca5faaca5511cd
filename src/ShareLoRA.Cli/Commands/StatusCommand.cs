using System.CommandLine;
using System.Text.Json;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Cluster.Status;

namespace ShareLoRA.Cli.Commands;

/// <summary>`sharelora status`: asks a running cluster for its members and the coordinator's job (stages, step, loss, tokens/s) without joining it.</summary>
public static class StatusCommand
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    public static Command Create()
    {
        var seed = new Option<string>("--seed") { Description = "HOST:PORT of the cluster's seed node, e.g. 10.0.0.1:4053.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the status report as JSON." };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for an answer.", DefaultValueFactory = _ => 10 };
        var (cert, ca, _) = NodeCommand.SecurityOptions();
        var command = new Command("status", "Show the cluster's members (address, roles, status), their devices, and the current job (stages, step, loss, tokens/s).") { seed, json, timeout, cert, ca };
        command.SetAction(parse =>
        {
            var seedAddress = HostPort.Parse(parse.GetValue(seed)!, "--seed");
            var seconds = parse.GetValue(timeout);
            if (seconds <= 0) throw new UserError($"--timeout must be > 0 seconds (got {seconds})");
            var tls = NodeCommand.ClientTls(parse, cert, ca);
            StatusReport report;
            try
            {
                report = StatusClient.QueryAsync(seedAddress, TimeSpan.FromSeconds(seconds), tls: tls).GetAwaiter().GetResult();
            }
            catch (TimeoutException e)
            {
                throw new UserError(e.Message);
            }
            Console.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(report, Json) : Format(report));
            return 0;
        });
        return command;
    }

    private static string Format(StatusReport report)
    {
        var devices = report.Nodes.ToDictionary(n => n.Address, n => n);
        var lines = new List<string>
        {
            $"{report.Members.Length} member(s), as seen by {report.ReportedBy} at {report.TakenAt:u}",
            $"{"ADDRESS",-40} {"ROLES",-12} {"STATUS",-9} {"REACHABLE",-9} DEVICE (FREE MEMORY)",
        };
        foreach (var m in report.Members)
        {
            var device = devices.TryGetValue(m.Address, out var n)
                ? $"{n.AssignedDevice} ({FormatBytes(n.Devices.FirstOrDefault(d => d.Name == n.AssignedDevice)?.FreeMemoryBytes)})"
                : "-";
            lines.Add($"{m.Address,-40} {string.Join(",", m.Roles),-12} {m.Status,-9} {(m.Reachable ? "yes" : "NO"),-9} {device}");
        }
        if (report.Job is { } job) lines.AddRange(FormatJob(job));
        else lines.Add("job: no coordinator answered");
        return string.Join(Environment.NewLine, lines);
    }

    private static IEnumerable<string> FormatJob(ShareLoRA.Cluster.Coordination.JobStatus job)
    {
        if (job.JobId is null)
        {
            yield return $"job: {job.State} ({job.Message})";
            yield break;
        }
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var loss = job.Loss is { } l ? l.ToString("0.0000", inv) : "-";
        yield return $"job {job.JobId}: {job.State}: {job.Message}";
        var eval = job.EvalLoss is { } e
            ? $"  eval loss {e.ToString("0.0000", inv)}{(job.DescribeEvalMetrics() is { } m ? ", " + m : "")} (step {job.EvalStep})" : "";
        yield return $"step {job.Step}/{job.Steps}  loss {loss}{eval}  {job.TokensPerSecond.ToString("#,0", inv)} tokens/s  output {job.Output}";
        if (job.Stages.Length == 0) yield break;
        yield return $"{"STAGE",-6} {"LAYERS",-8} {"DEVICE",-8} NODE";
        foreach (var s in job.Stages)
            yield return $"{s.Index,-6} {$"{s.FirstLayer}-{s.EndLayer - 1}",-8} {s.Device,-8} {s.Node}";
    }

    private static string FormatBytes(long? bytes) => bytes is { } b ? $"{b / (1024.0 * 1024 * 1024):0.0} GiB free" : "free unknown";
}
