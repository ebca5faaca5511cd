using Akka.Actor;
using Akka.Cluster;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Nodes;

namespace ShareLoRA.Cluster.Status;

/// <summary>
/// Answers <see cref="StatusProtocol.GetStatus"/> on every node (/user/status, registered with the
/// ClusterClientReceptionist so `sharelora status` can reach it without joining): membership from this node's view
/// plus each reachable member's <see cref="NodeProtocol.NodeReport"/> (members that do not answer in time are listed
/// without one).
/// </summary>
public sealed class StatusService : ReceiveActor
{
    /// <summary>Actor name under /user.</summary>
    public const string Name = "status";

    /// <summary>The path clients address through the receptionist.</summary>
    public const string Path = "/user/" + Name;

    private static readonly TimeSpan NodeReportTimeout = TimeSpan.FromSeconds(2);

    public StatusService()
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        Receive<StatusProtocol.GetStatus>(_ =>
        {
            var state = cluster.State;
            var members = state.Members
                .Concat(state.Unreachable.Where(u => !state.Members.Contains(u)))
                .OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
                .Select(m => new MemberInfo(
                    m.Address.ToString(),
                    m.Roles.OrderBy(r => r, StringComparer.Ordinal).ToArray(),
                    m.Status.ToString(),
                    !state.Unreachable.Contains(m)))
                .ToArray();
            var asks = members
                .Where(m => m.Reachable && m.Status is "Up" or "WeaklyUp")
                .Select(m => AskReport(Context.ActorSelection(m.Address + "/user/" + NodeGuardian.Name)))
                .ToArray();
            var reportedBy = cluster.SelfAddress.ToString();
            var job = AskJob(Context.ActorSelection(CoordinatorSingleton.ProxyPath));
            Task.WhenAll(asks)
                .ContinueWith(t => new StatusReport(reportedBy, DateTimeOffset.UtcNow, members,
                    t.Result.OfType<NodeProtocol.NodeReport>().ToArray(), job.Result), TaskScheduler.Default)
                .PipeTo(Sender);
        });
    }

    // Only seed nodes run the coordinator proxy; elsewhere (or while the singleton starts) there is no job to show.
    private static async Task<JobStatus?> AskJob(ActorSelection proxy)
    {
        try
        {
            return await proxy.Ask<JobStatus>(new CoordinatorProtocol.GetJobStatus(), NodeReportTimeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static async Task<NodeProtocol.NodeReport?> AskReport(ActorSelection guardian)
    {
        try
        {
            return await guardian.Ask<NodeProtocol.NodeReport>(new NodeProtocol.GetNodeReport(), NodeReportTimeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
            return null; // listed as a member without devices; the membership status already says what is wrong
        }
    }
}
