using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// The link between a stage and one neighbour stage: sends tensors to the neighbour and receives the neighbour's
/// tensors by tag. Bounded on both sides: <see cref="SendAsync"/> waits while the neighbour has too many frames
/// it has not yet taken, so a fast producer cannot flood memory or the network. Receives may be awaited in any
/// order, but a receiver must eventually take every frame sent to it (a frame nobody takes holds a credit).
/// </summary>
public interface IActivationTransport : IAsyncDisposable
{
    /// <summary>Human-readable name of the far end, for logs and errors.</summary>
    string Peer { get; }

    /// <summary>Queues a tensor for the neighbour; completes once queued, waits while the window is full.</summary>
    ValueTask SendAsync(ActivationTag tag, TensorPayload payload, CancellationToken cancellationToken = default);

    /// <summary>Completes with the neighbour's tensor of this tag; faults with an IOException if the link breaks.</summary>
    ValueTask<TensorPayload> ReceiveAsync(ActivationTag tag, CancellationToken cancellationToken = default);
}
