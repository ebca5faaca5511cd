using Akka.Actor;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// The data-plane options of the node an actor runs on (frame cap from HOCON, the node's TLS identity and refusal
/// log), registered by <see cref="Hosting.NodeHost"/>, so stage actors open links with
/// <c>TcpActivationListener.Start(..., options: DataPlaneSettings.For(Context.System))</c> and
/// <c>TcpActivationTransport.ConnectAsync(address, DataPlaneSettings.For(Context.System))</c>.
/// </summary>
public sealed class DataPlaneSettings(TcpTransportOptions options) : IExtension
{
    public TcpTransportOptions Options { get; } = options;

    /// <summary>The options registered for this system; without a NodeHost, those of its configuration (no TLS).</summary>
    public static TcpTransportOptions For(ActorSystem system) =>
        system.GetExtension<DataPlaneSettings>()?.Options ?? TcpTransportOptions.FromConfig(system.Settings.Config);

    internal static void Register(ActorSystem system, TcpTransportOptions options) => system.RegisterExtension(new Id(options));

    private sealed class Id(TcpTransportOptions options) : ExtensionIdProvider<DataPlaneSettings>
    {
        public override DataPlaneSettings CreateExtension(ExtendedActorSystem system) => new(options);
    }
}
