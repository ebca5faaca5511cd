using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cluster.Tests.Security;

public sealed class ConnectionRejectionLogTests
{
    [Fact]
    public void APeerThatKeepsRetryingIsLoggedOncePerIntervalWithACount()
    {
        var log = new CapturedLog();
        var now = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var rejections = new ConnectionRejectionLog(log.Logger, TimeSpan.FromMinutes(1), () => now);

        for (var i = 0; i < 100; i++)
        {
            rejections.Refused($"[::ffff:10.0.0.9]:{40000 + i}", "no client certificate presented");
            rejections.Refused($"10.0.0.9:{40000 + i}", "TLS handshake failed"); // a second layer reporting the same connection
            now += TimeSpan.FromMilliseconds(100);
        }
        var first = Assert.Single(log.Lines);
        Assert.Contains("10.0.0.9:40000", first);
        Assert.DoesNotContain("::ffff", first);
        Assert.Contains("no client certificate presented", first);

        rejections.Refused("10.0.0.7:5000", "wrong data-plane link token"); // another host is logged at once
        Assert.Equal(2, log.Lines.Count);

        now += TimeSpan.FromMinutes(1);
        rejections.Refused("10.0.0.9:50000", "no client certificate presented");
        Assert.Equal(3, log.Lines.Count);
        Assert.Contains("99 more", log.Lines[2]);

        rejections.Refused("akka.ssl.tcp://sharelora@10.0.0.5:4053", "bad", outbound: true);
        Assert.StartsWith("refused to connect to", log.Lines[3]);
    }
}
