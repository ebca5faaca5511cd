using System.Net;
using System.Net.Sockets;
using ShareLoRA.Cluster.Config;
using ShareLoRA.Cluster.Hosting;
using ShareLoRA.Cluster.Status;

namespace ShareLoRA.Cluster.Tests.Hosting;

public class NodeHostTests
{
    internal static int FreePort() => ShareLoRA.TestSupport.TestPorts.Free();

    [Fact]
    public async Task SeedComesUpAnswersStatusAndStopsCleanly()
    {
        var port = FreePort();
        await using var seed = NodeHost.Start(new NodeOptions(NodeRole.Seed, Host: "127.0.0.1", Port: port, StateDirectory: SeedStateFolder.New()));
        Assert.Equal($"seed@127.0.0.1:{port}", seed.Label);

        StatusReport? report = null;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            report = await StatusClient.QueryAsync(new HostPort("127.0.0.1", port), TimeSpan.FromSeconds(5));
            if (report.Members.Any(m => m.Status == "Up")) break;
            await Task.Delay(200);
        }
        var member = Assert.Single(report!.Members);
        Assert.Equal($"akka.tcp://sharelora@127.0.0.1:{port}", member.Address);
        Assert.Equal(["seed"], member.Roles);
        Assert.Equal("Up", member.Status);
        var node = Assert.Single(report.Nodes);
        Assert.Equal("cpu", node.AssignedDevice);
        Assert.Contains(node.Devices, d => d.Name == "cpu" && d.FreeMemoryBytes > 0);

        await seed.StopAsync();
        Assert.Equal(NodeExitCodes.Stopped, await seed.WhenExited.WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void PortInUseIsOneLineNamingHostAndPort()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var e = Assert.Throws<NodeStartException>(() => NodeHost.Start(new NodeOptions(NodeRole.Seed, Host: "127.0.0.1", Port: port, StateDirectory: SeedStateFolder.New())));
        Assert.StartsWith($"cannot listen on 127.0.0.1:{port}: address already in use", e.Message);
    }
}
