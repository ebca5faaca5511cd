using System.Net.Sockets;
using Akka.Actor;
using Akka.Cluster.Tools.Client;
using Serilog;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Evaluation;
using ShareLoRA.Cluster.Logging;
using ShareLoRA.Cluster.Nodes;
using ShareLoRA.Cluster.Security;
using ShareLoRA.Cluster.Status;

namespace ShareLoRA.Cluster.Hosting;

/// <summary>
/// One incarnation of a cluster node: the ActorSystem (seed or worker, joining through the seed), its
/// <see cref="NodeGuardian"/>, status service and evaluation service (and, on workers, the <see cref="SeedWatch"/>).
/// A downed or terminated system cannot rejoin, so this incarnation ends with its ActorSystem: <see cref="WhenExited"/>
/// completes with an exit code. <see cref="NodeRunner"/> then ends the process, or for a worker whose membership ended
/// (<see cref="NodeExitCodes.EndsMembershipOnly"/>) starts a new incarnation that joins the seed again.
/// </summary>
public sealed class NodeHost : IAsyncDisposable
{
    private readonly ILogger _log;
    private volatile bool _wasUp; // set on an Akka thread when the member is Up

    private NodeHost(ActorSystem system, NodeOptions options, ILogger log, ClusterTls? tls, ConnectionRejectionLog rejections)
    {
        System = system;
        Options = options;
        _log = log;
        Rejoin = options.Role == NodeRole.Worker ? RejoinPolicy.FromConfig(system.Settings.Config) : RejoinPolicy.Off;
        Tls = tls;
        Rejections = rejections;
        DataPlaneOptions = TcpTransportOptions.FromConfig(system.Settings.Config) with { Tls = tls, Rejections = rejections };
        DataPlaneSettings.Register(system, DataPlaneOptions);
        var address = ((ExtendedActorSystem)system).Provider.DefaultAddress;
        Host = address.Host!;
        Port = address.Port!.Value;
        Label = $"{RoleName(options.Role)}@{Host}:{Port}";
        Guardian = system.ActorOf(NodeGuardian.Props(options.Device, options.Threads), NodeGuardian.Name);
        var status = system.ActorOf(Props.Create<StatusService>(), StatusService.Name);
        ClusterClientReceptionist.Get(system).RegisterService(status);
        // Evaluation through the cluster (`sharelora eval ... --seed`): sessions start where the client's request lands.
        var eval = system.ActorOf(Props.Create<EvalService>(), EvalService.Name);
        ClusterClientReceptionist.Get(system).RegisterService(eval);
        if (options.Role == NodeRole.Seed) CoordinatorSingleton.Start(system);
        else system.ActorOf(SeedWatch.Props(), SeedWatch.Name);
        WhenExited = system.WhenTerminated.ContinueWith(_ => ExitCodeOf(CoordinatedShutdown.Get(system).ShutdownReason),
            TaskScheduler.Default);
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() =>
        {
            _wasUp = true;
            _log.Information("{Node} is Up in the cluster", Label);
        });
    }

    public ActorSystem System { get; }
    public NodeOptions Options { get; }
    public string Host { get; }
    public int Port { get; }

    /// <summary>role@host:port, as in every log line.</summary>
    public string Label { get; }

    public IActorRef Guardian { get; }

    /// <summary>Whether this node starts a new ActorSystem when its membership ends (workers only; off on seeds).</summary>
    public RejoinPolicy Rejoin { get; }

    /// <summary>Whether this incarnation became Up in the cluster (a rejoin after that starts its backoff afresh).</summary>
    public bool WasUp => _wasUp;

    internal ILogger Log => _log;

    /// <summary>This node's TLS identity; null when the node runs without TLS (loopback or --insecure).</summary>
    public ClusterTls? Tls { get; }

    /// <summary>Where refused connections to this node are logged (rate-limited per peer host).</summary>
    public ConnectionRejectionLog Rejections { get; }

    /// <summary>Options for this node's TCP data-plane links: frame cap from HOCON, and the node's TLS identity.</summary>
    public TcpTransportOptions DataPlaneOptions { get; }

    /// <summary>Completes with the exit code (<see cref="NodeExitCodes"/>) once the ActorSystem has terminated.</summary>
    public Task<int> WhenExited { get; }

    /// <summary>The Akka cluster role name of a node role.</summary>
    public static string RoleName(NodeRole role) => role.ToString().ToLowerInvariant();

    /// <summary>
    /// Starts the ActorSystem (which binds host:port and starts joining). A port already in use, a host that is not
    /// local, or a non-loopback address without TLS (checked before anything binds) becomes a one-line
    /// <see cref="NodeStartException"/>.
    /// </summary>
    public static NodeHost Start(NodeOptions options, ILogger? log = null)
    {
        options.Validate();
        DeviceInventory.EnsureAvailable(options.Device);
        var config = ClusterConfig.ForNode(options);
        var host = config.GetString("akka.remote.dot-netty.tcp.hostname");
        var port = config.GetInt("akka.remote.dot-netty.tcp.port");
        var security = NodeSecurityOptions.FromConfig(config);
        security.EnsureAllowedOn(host);
        var tls = security.LoadTls();
        log ??= Serilog.Log.Logger;
        var rejections = new ConnectionRejectionLog(log, security.RejectionLogInterval);
        ListenPortProbe.EnsureFree(host, port);
        if (Persistence.PersistenceDatabase.FromConfig(config) is { } database)
        {
            // Before the ActorSystem: a damaged or unwritable database would otherwise only show as the coordinator's
            // recovery timing out, with the SQL plugin retrying in the log.
            try
            {
                database.EnsureUsable();
            }
            catch (Persistence.PersistenceDatabaseException e)
            {
                throw new NodeStartException(e.Message, e);
            }
        }
        ActorSystem system;
        try
        {
            system = AkkaTls.CreateSystem(ClusterConfig.SystemName, config, tls, rejections);
        }
        catch (Exception e) when (FindSocketError(e) is { } socketError)
        {
            var why = socketError.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? "address already in use (another node or program listens there; choose another --port)"
                : socketError.Message;
            throw new NodeStartException($"cannot listen on {host}:{port}: {why}", e);
        }
        var node = new NodeHost(system, options, log, tls, rejections);
        NodeLogging.SetNode(RoleName(options.Role), node.Host, node.Port);
        node._log.Information("{Node} started (device {Device}, seed {Seed}, {Transport})", node.Label, options.Device,
            options.Seed?.ToString() ?? "self",
            tls == null ? "plain TCP" : $"mutual TLS as '{tls.Certificate.Subject}', trusting only '{tls.Authority.Subject}'");
        return node;
    }

    /// <summary>Leaves the cluster gracefully and terminates the ActorSystem (CoordinatedShutdown).</summary>
    public Task StopAsync() => CoordinatedShutdown.Get(System).Run(StopRequested.Instance);

    private static int ExitCodeOf(CoordinatedShutdown.Reason? reason) => reason switch
    {
        CoordinatedShutdown.ClusterDowningReason => NodeExitCodes.Downed,
        SeedWatch.SeedLost or CoordinatedShutdown.ClusterJoinUnsuccessfulReason => NodeExitCodes.SeedLost,
        StopRequested or CoordinatedShutdown.ClusterLeavingReason or CoordinatedShutdown.ClrExitReason or null => NodeExitCodes.Stopped,
        _ => NodeExitCodes.Failed,
    };

    private static SocketException? FindSocketError(Exception? e)
    {
        for (; e != null; e = e.InnerException)
        {
            if (e is SocketException s) return s;
            if (e is AggregateException a)
                foreach (var inner in a.InnerExceptions)
                    if (FindSocketError(inner) is { } found) return found;
        }
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        if (!System.WhenTerminated.IsCompleted)
        {
            await Task.WhenAny(StopAsync(), Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
            await Task.WhenAny(System.Terminate(), Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
    }

    /// <summary>Shutdown reason for a stop asked by the operator (signal or <see cref="StopAsync"/>).</summary>
    public sealed class StopRequested : CoordinatedShutdown.Reason
    {
        public static readonly StopRequested Instance = new();
        private StopRequested() { }
        public override int ExitCode => NodeExitCodes.Stopped;
    }
}
