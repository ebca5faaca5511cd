using Akka.Actor;
using ShareLoRA.Cluster.Config;

namespace ShareLoRA.Cluster.Tests;

/// <summary>ActorSystems for in-process tests: remote-only (no cluster), our serializer bound, ephemeral port on 127.0.0.1.</summary>
internal static class TestSystems
{
    public static ActorSystem Create(string name) => ActorSystem.Create(name, ClusterConfig.ForClient("127.0.0.1"));

    public static Address AddressOf(ActorSystem system) => ((ExtendedActorSystem)system).Provider.DefaultAddress;

    public static void Shutdown(params ActorSystem[] systems) =>
        Task.WhenAll(systems.Select(s => s.Terminate())).Wait(TimeSpan.FromSeconds(10));
}
