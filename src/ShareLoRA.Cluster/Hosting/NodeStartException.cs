namespace ShareLoRA.Cluster.Hosting;

/// <summary>A node could not start for a reason the user can fix (port in use, bad host); the message is one line.</summary>
public sealed class NodeStartException(string message, Exception? inner = null) : Exception(message, inner);
