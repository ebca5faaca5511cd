using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Cluster.Status;

namespace ShareLoRA.Cluster.Coordination;

/// <summary>
/// Talks to the coordinator from outside the cluster (`sharelora submit`): a non-member ActorSystem with a
/// ClusterClient to the seed's receptionist, kept open while a submitted job is followed.
/// </summary>
public sealed class CoordinatorClient : IAsyncDisposable
{
    private readonly ActorSystem _system;
    private readonly IActorRef _client;
    private readonly HostPort _seed;

    private CoordinatorClient(ActorSystem system, IActorRef client, HostPort seed)
    {
        _system = system;
        _client = client;
        _seed = seed;
    }

    /// <summary>
    /// Opens the client (does not wait for the cluster: the first request does). A cluster running TLS answers only a
    /// client with a certificate from its CA (<paramref name="tls"/>), as for status.
    /// </summary>
    public static CoordinatorClient Connect(HostPort seed, string? bindHost = null, ClusterTls? tls = null)
    {
        var config = ClusterConfig.ForClient(bindHost ?? StatusClient.LocalHostToward(seed.Host), tls != null)
            .WithFallback(ClusterClientReceptionist.DefaultConfig());
        var system = AkkaTls.CreateSystem(ClusterConfig.SystemName + "-submit", config, tls, rejections: null);
        var receptionist = ActorPath.Parse(ClusterConfig.AddressOf(seed, tls != null) + "/system/receptionist");
        var settings = ClusterClientSettings.Create(system).WithInitialContacts(ImmutableHashSet.Create(receptionist));
        return new CoordinatorClient(system, system.ActorOf(ClusterClient.Props(settings), "client"), seed);
    }

    /// <summary>
    /// Submits job JSON (with <paramref name="resume"/>: continue from the newest valid checkpoint in its output); returns
    /// the job id or throws <see cref="InvalidOperationException"/> with the rejection.
    /// </summary>
    public async Task<CoordinatorProtocol.JobAccepted> SubmitAsync(string jobJson, TimeSpan timeout, bool resume = false)
    {
        var answer = await Ask<object>(new CoordinatorProtocol.SubmitJob(jobJson, resume), timeout).ConfigureAwait(false);
        return answer switch
        {
            CoordinatorProtocol.JobAccepted accepted => accepted,
            CoordinatorProtocol.JobRejected rejected => throw new InvalidOperationException($"the coordinator rejected the job: {rejected.Reason}"),
            _ => throw new InvalidOperationException($"unexpected answer from the coordinator: {answer.GetType().Name}"),
        };
    }

    /// <summary>The coordinator's current or last job.</summary>
    public Task<JobStatus> StatusAsync(TimeSpan timeout) => Ask<JobStatus>(new CoordinatorProtocol.GetJobStatus(), timeout);

    private async Task<T> Ask<T>(object message, TimeSpan timeout)
    {
        try
        {
            return await _client.Ask<T>(new ClusterClient.Send(CoordinatorSingleton.ProxyPath, message, localAffinity: true), timeout)
                .ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new TimeoutException(
                $"no answer from the coordinator of a cluster at {_seed} within {timeout.TotalSeconds:0} s (is a seed running there? is --seed right?)");
        }
    }

    public async ValueTask DisposeAsync() =>
        await Task.WhenAny(_system.Terminate(), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
}
