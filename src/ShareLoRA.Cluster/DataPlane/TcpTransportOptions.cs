namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// Tuning of the TCP data plane. SendQueueCapacity frames may wait to be written and ReceiveCredits frames may sit
/// unclaimed at the receiver before the reader stops reading, which stops the sender through TCP itself.
/// </summary>
public sealed record TcpTransportOptions(
    int SendQueueCapacity = 4,
    int ReceiveCredits = 4,
    int SocketBufferBytes = 8 << 20,
    long MaxFrameBytes = 1L << 30,
    int ConnectTimeoutMs = 10_000)
{
    public static TcpTransportOptions Default { get; } = new();

    public void Validate()
    {
        if (SendQueueCapacity < 1) throw new ArgumentException($"data plane: SendQueueCapacity must be >= 1 (got {SendQueueCapacity})");
        if (ReceiveCredits < 1) throw new ArgumentException($"data plane: ReceiveCredits must be >= 1 (got {ReceiveCredits})");
        if (MaxFrameBytes < 1 || MaxFrameBytes > Array.MaxLength)
            throw new ArgumentException($"data plane: MaxFrameBytes must be in 1..{Array.MaxLength} (got {MaxFrameBytes})");
    }
}
