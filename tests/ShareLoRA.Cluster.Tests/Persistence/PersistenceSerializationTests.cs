using Akka.Actor;
using Akka.Configuration;
using ShareLoRA.Cluster.Coordination;
using ShareLoRA.Cluster.Persistence;
using SerializationException = System.Runtime.Serialization.SerializationException;

namespace ShareLoRA.Cluster.Tests.Persistence;

/// <summary>Every persisted type is bound to <see cref="MessagePackPersistenceSerializer"/> (never Newtonsoft) and
/// survives a round trip; damaged rows fail with the manifest named.</summary>
public sealed class PersistenceSerializationTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("serialization-test",
        PersistenceConfig.ForSqliteFile(Path.Combine(Path.GetTempPath(), "unused.db"))
            .WithFallback(ConfigurationFactory.ParseString("akka.loglevel = WARNING")));

    public static TheoryData<object> Samples() =>
    [
        new CoordinatorJournalEvents.JobAccepted("demo-1", "demo", JournalScenario.JobJson, "/runs/demo"),
        new CoordinatorJournalEvents.CheckpointCommitted("demo-1", 1_000_000, "/runs/demo/checkpoints/step-1000000"),
        new CoordinatorJournalEvents.JobEnded("demo-1", JobStatus.Failed, "stage 2 lost: worker@10.0.0.3:4100 unreachable"),
        CoordinatorState.Empty,
        new CoordinatorState(7, new ActiveJobState("a-7", "a", "{}", "/runs/a", null, null),
            new EndedJobState("b-6", "b", "{}", "/runs/b", JobStatus.Completed, "", 40, "/runs/b/checkpoints/step-000040")),
    ];

    [Theory]
    [MemberData(nameof(Samples))]
    public void EachPersistedTypeRoundTripsThroughTheMessagePackSerializer(object record)
    {
        var serializer = _system.Serialization.FindSerializerFor(record);
        Assert.IsType<MessagePackPersistenceSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, record);
        var back = _system.Serialization.Deserialize(serializer.ToBinary(record), serializer.Identifier, manifest);
        Assert.Equal(record, back);
    }

    [Fact]
    public void EveryPersistedTypeInTheAssemblyIsRegisteredAndBound()
    {
        var persisted = typeof(IPersistedRecord).Assembly.GetTypes()
            .Where(t => typeof(IPersistedRecord).IsAssignableFrom(t) && t is { IsInterface: false, IsAbstract: false });
        foreach (var type in persisted)
        {
            Assert.Contains(PersistedRecordTypes.All, e => e.Type == type);
            Assert.IsType<MessagePackPersistenceSerializer>(_system.Serialization.FindSerializerForType(type));
        }
        Assert.Equal(PersistedRecordTypes.All.Count, PersistedRecordTypes.All.Select(e => e.Manifest).Distinct().Count());
    }

    [Fact]
    public void ADamagedRowNamesItsManifest()
    {
        var serializer = (MessagePackPersistenceSerializer)_system.Serialization.FindSerializerForType(typeof(CoordinatorState));
        var e = Assert.Throws<SerializationException>(() => serializer.FromBinary([0x93, 0x01], "coordinator.state.v1"));
        Assert.StartsWith("persisted record 'coordinator.state.v1' (2 bytes) is malformed or truncated: ", e.Message);
        var unknown = Assert.Throws<SerializationException>(() => serializer.FromBinary([0xc0], "coordinator.future-thing.v9"));
        Assert.Contains("coordinator.future-thing.v9", unknown.Message);
    }

    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));
}
