using Akka.Actor;
using Akka.Configuration;
using ShareLoRA.Cluster.Coordination;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary>A local ActorSystem with the given persistence configuration and one <see cref="CoordinatorJournal"/>:
/// disposing it stops the system, as a seed process exiting would.</summary>
internal sealed class JournalHost : IAsyncDisposable
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(20);

    private JournalHost(ActorSystem system)
    {
        System = system;
        Journal = system.ActorOf(CoordinatorJournal.Props(), CoordinatorJournal.Name);
    }

    public ActorSystem System { get; }
    public IActorRef Journal { get; }

    public static JournalHost Start(Akka.Configuration.Config persistence) =>
        new(ActorSystem.Create("journal-test", persistence.WithFallback(ConfigurationFactory.ParseString(
            "akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING\nakka.log-dead-letters = off"))));

    public Task<CoordinatorState> StateAsync() => Journal.Ask<CoordinatorState>(CoordinatorJournalProtocol.GetCoordinatorState.Instance, AskTimeout);

    public async Task<CoordinatorState> RecordAsync(object command) =>
        (await Journal.Ask<CoordinatorJournalProtocol.Recorded>(command, AskTimeout)).State;

    public async ValueTask DisposeAsync() => await System.Terminate().WaitAsync(TimeSpan.FromSeconds(20));
}
