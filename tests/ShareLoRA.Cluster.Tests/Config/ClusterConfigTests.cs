using ShareLoRA.Cluster.Config;

namespace ShareLoRA.Cluster.Tests.Config;

public class ClusterConfigTests
{
    [Fact]
    public void SeedJoinsItselfWithTheSeedRoleOnItsOwnAddress()
    {
        var config = ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, Host: "127.0.0.1", Port: 4999));
        Assert.Equal(["seed"], config.GetStringList("akka.cluster.roles"));
        Assert.Equal(["akka.tcp://sharelora@127.0.0.1:4999"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(4999, config.GetInt("akka.remote.dot-netty.tcp.port"));
    }

    [Fact]
    public void AFurtherSeedRoleNodeJoinsThroughTheGivenSeedAndKeepsPersistence()
    {
        var config = ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, Host: "127.0.0.1", Port: 4998, Seed: HostPort.Parse("127.0.0.1:4999"), StateDirectory: "/srv/shared-state"));
        Assert.Equal(["seed"], config.GetStringList("akka.cluster.roles"));
        Assert.Equal(["akka.tcp://sharelora@127.0.0.1:4999"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Contains("/srv/shared-state/coordinator.db", config.GetString("akka.persistence.journal.sql.connection-string"));
    }

    [Fact]
    public void WorkerJoinsThroughTheSeedOnAnyFreePortByDefault()
    {
        var config = ClusterConfig.ForNode(new NodeOptions(NodeRole.Worker, Seed: HostPort.Parse("10.0.0.1:4053")));
        Assert.Equal(["worker"], config.GetStringList("akka.cluster.roles"));
        Assert.Equal(["akka.tcp://sharelora@10.0.0.1:4053"], config.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(0, config.GetInt("akka.remote.dot-netty.tcp.port"));
    }

    [Fact]
    public void BaseSettingsCoverSerializerFrameSizeDowningAndLogging()
    {
        var config = ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed));
        Assert.Equal("sharelora", config.GetString("akka.actor.serialization-bindings.\"ShareLoRA.Cluster.Wire.IClusterMessage, ShareLoRA.Cluster\""));
        Assert.True(config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") >= 16 << 20);
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Contains(config.GetStringList("akka.extensions"), e => e.StartsWith("Akka.Cluster.Tools.PublishSubscribe.DistributedPubSubExtensionProvider", StringComparison.Ordinal));
        Assert.Contains(config.GetStringList("akka.loggers"), l => l.StartsWith("Akka.Logger.Serilog.SerilogLogger", StringComparison.Ordinal));
    }

    [Fact]
    public void ConfigFileOverridesTheEmbeddedFilesAndCommandLineOverridesTheFile()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "akka.cluster.split-brain-resolver.stable-after = 3s\nakka.remote.dot-netty.tcp.port = 5001\n");
            var fromFile = ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, ConfigFile: file));
            Assert.Equal(TimeSpan.FromSeconds(3), fromFile.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
            Assert.Equal(5001, fromFile.GetInt("akka.remote.dot-netty.tcp.port"));
            Assert.Equal(["akka.tcp://sharelora@127.0.0.1:5001"], fromFile.GetStringList("akka.cluster.seed-nodes"));

            var fromOption = ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, Port: 5002, ConfigFile: file));
            Assert.Equal(5002, fromOption.GetInt("akka.remote.dot-netty.tcp.port"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("akka.cluster.roles = [seed\n}\n", "line 2: '}' does not match '[' opened on line 1")]
    [InlineData("akka {\n  cluster.roles = [seed]\n", "line 1: '{' is never closed")]
    [InlineData("akka.x = \"a { b\"\n}", "line 2: '}' closes nothing")]
    public void UnbalancedConfigFileIsOneLineNamingFileAndLine(string text, string problem)
    {
        // Akka's HOCON parser never returns on some of these; the check must catch them first.
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, text);
            var e = Assert.Throws<InvalidDataException>(() => ClusterConfig.ForNode(new NodeOptions(NodeRole.Seed, ConfigFile: file)));
            Assert.Equal($"{file}: not valid HOCON: {problem}", e.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("10.0.0.1", "--seed: expected HOST:PORT with a port in 1..65535, e.g. 10.0.0.1:4053 (got '10.0.0.1')")]
    [InlineData("host:0", "--seed: expected HOST:PORT with a port in 1..65535, e.g. 10.0.0.1:4053 (got 'host:0')")]
    [InlineData(":4053", "--seed: expected HOST:PORT with a port in 1..65535, e.g. 10.0.0.1:4053 (got ':4053')")]
    public void BadSeedAddressesAreOneLineErrors(string text, string message) =>
        Assert.Equal(message, Assert.Throws<FormatException>(() => HostPort.Parse(text)).Message);

    [Fact]
    public void WorkerWithoutSeedAndBadDeviceAreRejected()
    {
        Assert.Contains("--seed is required", Assert.Throws<ArgumentException>(() => new NodeOptions(NodeRole.Worker).Validate()).Message);
        Assert.Contains("--device must be cpu or cuda:N (got 'gpu0')",
            Assert.Throws<ArgumentException>(() => new NodeOptions(NodeRole.Worker, Seed: new HostPort("h", 1), Device: "gpu0").Validate()).Message);
    }
}
