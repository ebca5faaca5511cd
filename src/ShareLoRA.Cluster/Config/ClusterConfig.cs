using System.Globalization;
using System.Reflection;
using Akka.Configuration;

namespace ShareLoRA.Cluster.Config;

/// <summary>
/// Builds the HOCON of a node from the embedded cluster-config/*.hocon files. Precedence, highest first:
/// command-line options (host, port, seed, cert, ca, insecure, rejoin) &gt; the --config file &gt; the role file (seed.hocon /
/// worker.hocon) &gt; persistence.hocon (seed role only: it can host the coordinator) &gt; base.hocon. A configured certificate (sharelora.tls) turns on TLS for Akka.Remote
/// (enable-ssl; addresses become akka.ssl.tcp://...).
/// </summary>
public static class ClusterConfig
{
    /// <summary>ActorSystem name shared by every node of a cluster (part of every address: akka.tcp://sharelora@host:port).</summary>
    public const string SystemName = "sharelora";

    /// <summary>The text of an embedded file, e.g. "base.hocon".</summary>
    public static string ReadEmbedded(string fileName)
    {
        var name = "cluster-config/" + fileName;
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"embedded resource {name} is missing from ShareLoRA.Cluster.dll");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The full configuration of a seed or worker node.</summary>
    public static Akka.Configuration.Config ForNode(NodeOptions options)
    {
        var roleFile = options.Role == NodeRole.Seed ? "seed.hocon" : "worker.hocon";
        var common = ConfigurationFactory.ParseString(ReadEmbedded("base.hocon"));
        // Only nodes that can host the coordinator singleton (the seed role) need its persistence.
        if (options.Role == NodeRole.Seed) common = Persistence.PersistenceConfig.Embedded().WithFallback(common);
        var layered = ConfigurationFactory.ParseString(ReadEmbedded(roleFile)).WithFallback(common);
        if (options.ConfigFile != null)
            layered = ParseFile(options.ConfigFile).WithFallback(layered);

        var overrides = new List<string>();
        if (options.Host != null) overrides.Add($"akka.remote.dot-netty.tcp.hostname = {Quote(options.Host)}");
        if (options.Port != null) overrides.Add($"akka.remote.dot-netty.tcp.port = {options.Port.Value.ToString(CultureInfo.InvariantCulture)}");
        if (options.CertificateFile != null) overrides.Add($"sharelora.tls.certificate = {Quote(options.CertificateFile)}");
        if (options.CaFile != null) overrides.Add($"sharelora.tls.ca = {Quote(options.CaFile)}");
        if (options.Insecure) overrides.Add("sharelora.tls.insecure = on");
        if (options.Rejoin is { } rejoin) overrides.Add($"sharelora.rejoin.enabled = {(rejoin ? "on" : "off")}");
        var merged = overrides.Count == 0 ? layered : ConfigurationFactory.ParseString(string.Join("\n", overrides)).WithFallback(layered);
        var tls = Security.NodeSecurityOptions.FromConfig(merged).TlsEnabled;
        if (!tls && merged.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"))
            throw new ArgumentException("akka.remote.dot-netty.tcp.enable-ssl is on but no certificate is configured: give --cert and --ca " +
                "(TLS set up through Akka's own ssl section would trust the system CA store instead of the cluster CA)");
        if (tls) merged = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = on").WithFallback(merged);

        // Seed nodes: a seed joins itself (at its final host:port) unless given --seed (a further seed-role node joining a
        // running cluster); a worker joins through --seed.
        var seed = options.Role == NodeRole.Seed && options.Seed is null
            ? new HostPort(merged.GetString("akka.remote.dot-netty.tcp.hostname"), merged.GetInt("akka.remote.dot-netty.tcp.port"))
            : options.Seed!;
        if (seed.Port == 0)
            throw new ArgumentException("a seed node needs a fixed port: give --port (or set akka.remote.dot-netty.tcp.port in --config)");
        var seedNodes = ConfigurationFactory.ParseString($"akka.cluster.seed-nodes = [{Quote(AddressOf(seed, tls))}]");
        var node = seedNodes.WithFallback(merged);
        return options.Role == NodeRole.Seed ? Persistence.PersistenceConfig.Resolve(node, options.EffectiveStateDirectory) : node;
    }

    /// <summary>Configuration of the short-lived, non-member client used by `sharelora status` (TLS: with a certificate).</summary>
    public static Akka.Configuration.Config ForClient(string bindHost, bool tls = false) =>
        ConfigurationFactory.ParseString($"akka.remote.dot-netty.tcp.hostname = {Quote(bindHost)}\n" +
                                         $"akka.remote.dot-netty.tcp.enable-ssl = {(tls ? "on" : "off")}")
            .WithFallback(ConfigurationFactory.ParseString(ReadEmbedded("client.hocon")));

    /// <summary>The Akka address of a node of this cluster at host:port (akka.ssl.tcp when the cluster runs TLS).</summary>
    public static string AddressOf(HostPort node, bool tls = false) =>
        $"akka.{(tls ? "ssl." : "")}tcp://{SystemName}@{node.Host}:{node.Port}";

    private static Akka.Configuration.Config ParseFile(string path)
    {
        var text = File.ReadAllText(path);
        if (HoconBrackets.FindProblem(text) is { } problem)
            throw new InvalidDataException($"{path}: not valid HOCON: {problem}");
        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e)
        {
            throw new InvalidDataException($"{path}: not valid HOCON: {e.Message.Split('\n')[0]}");
        }
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
