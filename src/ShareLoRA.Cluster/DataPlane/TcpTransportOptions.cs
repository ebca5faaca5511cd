using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// Tuning of the TCP data plane. SendQueueCapacity frames may wait to be written and ReceiveCredits frames may sit
/// unclaimed at the receiver before the reader stops reading, which stops the sender through TCP itself.
/// MaxFrameBytes caps what a peer may announce in one frame header (sharelora.data-plane.maximum-frame-size): a
/// larger announcement drops the link before anything is allocated. With <see cref="Tls"/> both ends run mutually
/// authenticated TLS against the cluster CA before the link token is exchanged.
/// </summary>
public sealed record TcpTransportOptions(
    int SendQueueCapacity = 4,
    int ReceiveCredits = 4,
    int SocketBufferBytes = 8 << 20,
    long MaxFrameBytes = 256L << 20,
    int ConnectTimeoutMs = 10_000)
{
    public static TcpTransportOptions Default { get; } = new();

    /// <summary>This node's TLS identity; null: plain TCP (the per-link token is then the only check).</summary>
    public ClusterTls? Tls { get; init; }

    /// <summary>Where a listener logs refused connections and dropped links; null: Serilog's global logger, once a minute per host.</summary>
    public ConnectionRejectionLog? Rejections { get; init; }

    /// <summary>The data-plane settings of a node's configuration (sharelora.data-plane).</summary>
    public static TcpTransportOptions FromConfig(Akka.Configuration.Config config) =>
        new(MaxFrameBytes: config.GetByteSize("sharelora.data-plane.maximum-frame-size", Default.MaxFrameBytes) ?? Default.MaxFrameBytes);

    public void Validate()
    {
        if (SendQueueCapacity < 1) throw new ArgumentException($"data plane: SendQueueCapacity must be >= 1 (got {SendQueueCapacity})");
        if (ReceiveCredits < 1) throw new ArgumentException($"data plane: ReceiveCredits must be >= 1 (got {ReceiveCredits})");
        if (MaxFrameBytes < 1 || MaxFrameBytes > Array.MaxLength)
            throw new ArgumentException($"data plane: MaxFrameBytes must be in 1..{Array.MaxLength} (got {MaxFrameBytes})");
    }

    internal ConnectionRejectionLog RejectionsOrDefault() =>
        Rejections ?? new ConnectionRejectionLog(Serilog.Log.ForContext<TcpActivationListener>(), ConnectionRejectionLog.DefaultInterval);
}
