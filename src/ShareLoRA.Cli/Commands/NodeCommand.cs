using System.CommandLine;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Hosting;
using ShareLoRA.Cluster.Logging;
using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cli.Commands;

/// <summary>
/// `sharelora node seed|worker`: runs one cluster node in the foreground until SIGTERM/SIGINT; a seed also ends when
/// downed, a worker rejoins the seed with a new ActorSystem unless --no-rejoin (<see cref="NodeRunner"/>).
/// </summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var command = new Command("node", "Run one cluster node (seed or worker) in the foreground; SIGTERM leaves the cluster cleanly " +
                                          "(exit codes: 0 stopped, 1 failed, 3 downed, 4 seed lost with --no-rejoin).");
        command.Subcommands.Add(CreateSeed());
        command.Subcommands.Add(CreateWorker());
        return command;
    }

    private static Command CreateSeed()
    {
        var host = HostOption();
        var port = new Option<int?>("--port") { Description = "Port to listen on (default 4053)." };
        var config = ConfigOption();
        var logs = LogsOption();
        var (cert, ca, insecure) = SecurityOptions();
        var state = new Option<string?>("--state")
        {
            Description = "Folder of the coordinator's state database (SQLite file coordinator.db: active job, last committed checkpoint); " +
                          "default LOGS/state. A shared PostgreSQL instead is set with --config (docs/PERSISTENCE.md).",
        };
        var join = new Option<string?>("--seed")
        {
            Description = "HOST:PORT of a running seed to join as a further seed-role node (the coordinator moves here when that node is " +
                          "lost; share the state database with it: docs/PERSISTENCE.md). Default: start a new cluster.",
        };
        var command = new Command("seed", "Start the seed node: the fixed address workers join through; it hosts the coordinator.")
        {
            host, port, config, logs, state, join, cert, ca, insecure,
        };
        command.SetAction(parse => Run(new NodeOptions(
            NodeRole.Seed,
            Host: parse.GetValue(host),
            Port: parse.GetValue(port),
            Seed: parse.GetValue(join) is { } joinText ? HostPort.Parse(joinText, "--seed") : null,
            ConfigFile: parse.GetValue(config),
            LogsDirectory: parse.GetValue(logs)!,
            CertificateFile: parse.GetValue(cert),
            CaFile: parse.GetValue(ca),
            Insecure: parse.GetValue(insecure),
            StateDirectory: parse.GetValue(state))));
        return command;
    }

    private static Command CreateWorker()
    {
        var seed = new Option<string>("--seed") { Description = "HOST:PORT of the seed node to join, e.g. 10.0.0.1:4053.", Required = true };
        var host = HostOption();
        var port = new Option<int?>("--port") { Description = "Port to listen on (default 0: any free port)." };
        var device = new Option<string>("--device") { Description = "Device this worker computes on: cpu or cuda:N.", DefaultValueFactory = _ => "cpu" };
        var threads = new Option<int>("--threads") { Description = "Torch CPU threads for this worker's stages (0: library default).", DefaultValueFactory = _ => 0 };
        var config = ConfigOption();
        var logs = LogsOption();
        var (cert, ca, insecure) = SecurityOptions();
        var noRejoin = new Option<bool>("--no-rejoin")
        {
            Description = "Exit when this worker's cluster membership ends (downed: exit code 3; seed lost: 4) instead of starting a new " +
                          "ActorSystem and joining the seed again (the default, with backoff 1 s doubling to 15 s, for as long as the seed " +
                          "is away). For a supervisor that restarts processes itself.",
        };
        var command = new Command("worker", "Start a worker node that joins the cluster through the seed and runs pipeline stages; " +
                                            "when the seed is restarted, the worker joins it again by itself.")
        {
            seed, host, port, device, threads, config, logs, cert, ca, insecure, noRejoin,
        };
        command.SetAction(parse => Run(new NodeOptions(
            NodeRole.Worker,
            Host: parse.GetValue(host),
            Port: parse.GetValue(port),
            Seed: HostPort.Parse(parse.GetValue(seed)!, "--seed"),
            ConfigFile: parse.GetValue(config),
            Device: parse.GetValue(device)!,
            Threads: parse.GetValue(threads),
            LogsDirectory: parse.GetValue(logs)!,
            CertificateFile: parse.GetValue(cert),
            CaFile: parse.GetValue(ca),
            Insecure: parse.GetValue(insecure),
            Rejoin: parse.GetValue(noRejoin) ? false : null)));
        return command;
    }

    private static Option<string?> HostOption() =>
        new("--host") { Description = "Host name or IP this node binds and is reached at (default 127.0.0.1)." };

    /// <summary>
    /// The TLS identity of a client command (status, submit) from its --cert and --ca, or null without them.
    /// The two go together; the .pfx password comes from the environment.
    /// </summary>
    internal static ClusterTls? ClientTls(ParseResult parse, Option<string?> cert, Option<string?> ca)
    {
        var (certFile, caFile) = (parse.GetValue(cert), parse.GetValue(ca));
        if ((certFile == null) != (caFile == null))
            throw new UserError("--cert and --ca go together: a certificate from the cluster CA and that CA");
        return certFile == null ? null : ClusterTls.Load(certFile, caFile!, ClusterCertificates.PasswordFromEnvironment());
    }

    /// <summary>--cert, --ca and --insecure, shared by seed, worker and (cert, ca) the client commands.</summary>
    internal static (Option<string?> Cert, Option<string?> Ca, Option<bool> Insecure) SecurityOptions() =>
    (
        new("--cert") { Description = $"This node's certificate and key (.pfx from `sharelora certs issue`); turns on mutual TLS. Password from {ClusterCertificates.PasswordVariable}." },
        new("--ca") { Description = "The cluster CA certificate (ca.crt from `sharelora certs init`): the only CA whose certificates are accepted." },
        new("--insecure") { Description = "Allow listening on a non-loopback address without TLS (anyone who reaches the port can join)." }
    );

    private static Option<string?> ConfigOption() =>
        new("--config") { Description = "HOCON file layered over the built-in cluster configuration (cluster-config/*.hocon)." };

    private static Option<string> LogsOption() =>
        new("--logs") { Description = "Directory for the node's JSON log file.", DefaultValueFactory = _ => "logs" };

    private static int Run(NodeOptions options)
    {
        options.Validate();
        // The address is known before start (port 0 stays 0 until Akka binds; the log label is updated then).
        var config = ClusterConfig.ForNode(options);
        try
        {
            // Before the log file or any socket: a node that may not start leaves nothing behind.
            NodeSecurityOptions.FromConfig(config).EnsureAllowedOn(config.GetString("akka.remote.dot-netty.tcp.hostname"));
        }
        catch (NodeStartException e)
        {
            throw new UserError(e.Message);
        }
        var logFile = NodeLogging.Configure(NodeHost.RoleName(options.Role),
            config.GetString("akka.remote.dot-netty.tcp.hostname"), config.GetInt("akka.remote.dot-netty.tcp.port"),
            options.LogsDirectory);
        try
        {
            NodeHost node;
            try
            {
                node = NodeHost.Start(options);
            }
            catch (NodeStartException e)
            {
                Serilog.Log.Debug(e, "node did not start"); // the trace goes to the file only; the user gets one line
                throw new UserError(e.Message);
            }
            Serilog.Log.Information("logging to {LogFile}", logFile);
            return NodeRunner.RunUntilSignalAsync(node).GetAwaiter().GetResult();
        }
        finally
        {
            NodeLogging.Close();
        }
    }
}
