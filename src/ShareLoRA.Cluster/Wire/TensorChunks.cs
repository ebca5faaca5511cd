namespace ShareLoRA.Cluster.Wire;

/// <summary>
/// Splits named tensors into groups of bounded size, so state transfers (checkpoints, restores) travel as several
/// Akka messages each well under the remoting frame limit (32 MiB) whatever the model's size. Order is kept; a tensor
/// larger than the bound travels alone in its own group.
/// </summary>
public static class TensorChunks
{
    /// <summary>Default bound of one group's tensor bytes: a few MiB, small next to the frame limit and the heartbeats it delays.</summary>
    public const long DefaultMaxBytes = 4L * 1024 * 1024;

    /// <summary>
    /// The tensors in order, cut into consecutive groups whose summed <see cref="TensorPayload.Bytes"/> stay within
    /// <paramref name="maxBytes"/> (a single larger tensor forms its own group). At least one (possibly empty) group.
    /// </summary>
    public static IReadOnlyList<Dictionary<string, TensorPayload>> Split(IEnumerable<KeyValuePair<string, TensorPayload>> tensors,
        long maxBytes = DefaultMaxBytes)
    {
        if (maxBytes < 1) throw new ArgumentOutOfRangeException(nameof(maxBytes), maxBytes, "chunk bound must be >= 1 byte");
        var groups = new List<Dictionary<string, TensorPayload>>();
        var current = new Dictionary<string, TensorPayload>(StringComparer.Ordinal);
        long bytes = 0;
        foreach (var (name, payload) in tensors)
        {
            long size = payload.Bytes.LongLength;
            if (current.Count > 0 && bytes + size > maxBytes)
            {
                groups.Add(current);
                current = new Dictionary<string, TensorPayload>(StringComparer.Ordinal);
                bytes = 0;
            }
            current.Add(name, payload);
            bytes += size;
        }
        if (current.Count > 0 || groups.Count == 0) groups.Add(current);
        return groups;
    }
}
