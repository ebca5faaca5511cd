using Akka.Actor;

namespace ShareLoRA.Cluster.Evaluation;

/// <summary>
/// The entry point of evaluation through the cluster (/user/eval on every node, registered with the
/// ClusterClientReceptionist so `sharelora eval ... --seed` reaches the seed's without joining): each
/// <see cref="EvalProtocol.OpenSession"/> starts its own <see cref="EvalSession"/> child, which answers the client's actor.
/// </summary>
public sealed class EvalService : ReceiveActor
{
    /// <summary>Actor name under /user.</summary>
    public const string Name = "eval";

    /// <summary>The path clients address through the receptionist.</summary>
    public const string Path = "/user/" + Name;

    private int _sessions;

    public EvalService()
    {
        Receive<EvalProtocol.OpenSession>(open =>
        {
            // Unique per seed process: names the session's actors on the workers and its log lines.
            var id = $"{Environment.ProcessId:x}-{++_sessions}";
            Context.ActorOf(EvalSession.Props(id, open), "session-" + id);
        });
    }
}
