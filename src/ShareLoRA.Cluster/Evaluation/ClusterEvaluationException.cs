namespace ShareLoRA.Cluster.Evaluation;

/// <summary>
/// Evaluation through the cluster could not start or continue (no answer from the seed, no worker Up, a stage failed,
/// the session ended); the message is one line naming the seed and, where known, the worker and its reason.
/// </summary>
public sealed class ClusterEvaluationException(string message) : Exception(message);
