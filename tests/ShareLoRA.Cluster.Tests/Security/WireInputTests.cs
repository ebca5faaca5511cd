using System.Runtime.Serialization;
using Akka.Actor;
using ShareLoRA.Cluster.DataPlane;
using ShareLoRA.Cluster.Status;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.Tests.Security;

/// <summary>The wire serializer treats network bytes as untrusted: registered manifests only, malformed input is a clear error.</summary>
public sealed class WireInputTests : IDisposable
{
    private readonly ActorSystem _system = TestSystems.Create("wire-input");

    private Akka.Serialization.Serializer Serializer => _system.Serialization.FindSerializerForType(typeof(IClusterMessage));

    [Fact]
    public void AnUnknownManifestThrowsAClearSerializationException()
    {
        var e = Assert.Throws<SerializationException>(() =>
            _system.Serialization.Deserialize([0x90], MessagePackWireSerializer.Id, "System.Diagnostics.Process"));
        Assert.Contains("unknown wire manifest 'System.Diagnostics.Process'", e.Message);
    }

    [Fact]
    public void TruncatedOrMalformedPayloadsForAKnownManifestThrowAndTheSystemKeepsWorking()
    {
        var report = new StatusReport("akka.tcp://sharelora@10.0.0.1:4053", DateTimeOffset.UnixEpoch,
            [new MemberInfo("akka.tcp://sharelora@10.0.0.1:4053", ["seed"], "Up", true)], []);
        var bytes = Serializer.ToBinary(report);

        for (var cut = 0; cut < bytes.Length; cut += Math.Max(1, bytes.Length / 17))
        {
            var e = Assert.Throws<SerializationException>(() =>
                _system.Serialization.Deserialize(bytes[..cut], MessagePackWireSerializer.Id, "status.report"));
            Assert.Contains("wire message 'status.report'", e.Message);
        }
        // An array header announcing 2^31 elements in a 6-byte payload must fail fast, not allocate.
        byte[] hugeArray = [0x94, 0xa1, (byte)'x', 0xdd, 0x7f, 0xff, 0xff, 0xff];
        Assert.Throws<SerializationException>(() => _system.Serialization.Deserialize(hugeArray, MessagePackWireSerializer.Id, "status.report"));
        // A tensor frame whose bin header claims 1 GiB but carries 4 bytes.
        byte[] hugeBin = [0x92, 0x93, 0x01, 0x00, 0x00, 0x93, 0x91, 0x01, 0xa3, (byte)'f', (byte)'3', (byte)'2', 0xc6, 0x40, 0x00, 0x00, 0x00, 1, 2, 3, 4];
        Assert.Throws<SerializationException>(() => _system.Serialization.Deserialize(hugeBin, MessagePackWireSerializer.Id, "dp.frame"));
        // Wrong shape of data entirely (a string where a record is expected).
        Assert.Throws<SerializationException>(() => _system.Serialization.Deserialize([0xa3, 0x61, 0x62, 0x63], MessagePackWireSerializer.Id, "dp.ack"));

        // The serializer and system are unharmed: a well-formed message still round-trips.
        var ack = new DataPlaneProtocol.ActivationAck(new ActivationTag(7, 1, ActivationDirection.Backward));
        var back = _system.Serialization.Deserialize(Serializer.ToBinary(ack), MessagePackWireSerializer.Id, "dp.ack");
        Assert.Equal(ack, back);
        Assert.Equal(report.ReportedBy, ((StatusReport)_system.Serialization.Deserialize(bytes, MessagePackWireSerializer.Id, "status.report")).ReportedBy);
    }

    public void Dispose() => TestSystems.Shutdown(_system);
}
