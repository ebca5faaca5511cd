namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// Marker of every message that crosses the network. cluster-config/base.hocon binds this interface to
/// <see cref="MessagePackWireSerializer"/>; each implementing type must also be listed in <see cref="WireMessageTypes"/>.
/// </summary>
public interface IClusterMessage;
