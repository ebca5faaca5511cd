using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// Frames that arrived on a link, matched to receivers by tag whatever the arrival order. Each frame may carry an
/// action run when a receiver takes it: the transports use it to hand a flow-control credit back.
/// </summary>
internal sealed class TaggedInbox(string peer)
{
    private readonly object _gate = new();
    private readonly Dictionary<ActivationTag, (TensorPayload Payload, Action? OnTaken)> _ready = new();
    private readonly Dictionary<ActivationTag, TaskCompletionSource<TensorPayload>> _waiting = new();
    private Exception? _failure;

    public void Put(ActivationTag tag, TensorPayload payload, Action? onTaken = null)
    {
        TaskCompletionSource<TensorPayload>? waiter;
        lock (_gate)
        {
            if (_failure != null) return;
            if (_waiting.Remove(tag, out waiter)) { }
            else if (!_ready.TryAdd(tag, (payload, onTaken)))
                throw new InvalidDataException($"data-plane link to {peer}: a second tensor arrived for {tag}");
        }
        if (waiter != null)
        {
            waiter.TrySetResult(payload);
            onTaken?.Invoke();
        }
    }

    public ValueTask<TensorPayload> TakeAsync(ActivationTag tag, CancellationToken cancellationToken)
    {
        TaskCompletionSource<TensorPayload> waiter;
        (TensorPayload Payload, Action? OnTaken) entry;
        lock (_gate)
        {
            if (_ready.Remove(tag, out entry)) { }
            else
            {
                if (_failure != null) return ValueTask.FromException<TensorPayload>(_failure);
                if (_waiting.ContainsKey(tag))
                    throw new InvalidOperationException($"data-plane link to {peer}: {tag} is already awaited");
                waiter = new TaskCompletionSource<TensorPayload>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Add(tag, waiter);
                if (cancellationToken.CanBeCanceled)
                    cancellationToken.Register(() =>
                    {
                        lock (_gate)
                            if (_waiting.TryGetValue(tag, out var w) && w == waiter) _waiting.Remove(tag);
                        waiter.TrySetCanceled(cancellationToken);
                    });
                return new ValueTask<TensorPayload>(waiter.Task);
            }
        }
        entry.OnTaken?.Invoke();
        return ValueTask.FromResult(entry.Payload);
    }

    /// <summary>Fails every current and future receive that has no frame (frames already here stay takeable).</summary>
    public void Fail(Exception failure)
    {
        List<TaskCompletionSource<TensorPayload>> waiters;
        lock (_gate)
        {
            _failure ??= failure;
            waiters = _waiting.Values.ToList();
            _waiting.Clear();
        }
        foreach (var w in waiters) w.TrySetException(failure);
    }
}
