namespace ShareLoRA.Cluster.Hosting;

/// <summary>
/// Whether and how fast a worker starts a new ActorSystem after its cluster membership ended (sharelora.rejoin in
/// worker.hocon; --no-rejoin turns it off): the first attempt after <see cref="MinBackoff"/>, each further one in a
/// row after twice the previous wait, at most <see cref="MaxBackoff"/>.
/// </summary>
public sealed record RejoinPolicy(bool Enabled, TimeSpan MinBackoff, TimeSpan MaxBackoff)
{
    /// <summary>Rejoining off: the node's process ends with its ActorSystem (seeds always; workers with --no-rejoin).</summary>
    public static readonly RejoinPolicy Off = new(false, TimeSpan.Zero, TimeSpan.Zero);

    /// <summary>The policy in a node's configuration (sharelora.rejoin; absent, as on seeds: off).</summary>
    public static RejoinPolicy FromConfig(Akka.Configuration.Config config)
    {
        if (!config.HasPath("sharelora.rejoin.enabled") || !config.GetBoolean("sharelora.rejoin.enabled")) return Off;
        var min = config.GetTimeSpan("sharelora.rejoin.min-backoff", TimeSpan.FromSeconds(1));
        var max = config.GetTimeSpan("sharelora.rejoin.max-backoff", TimeSpan.FromSeconds(15));
        if (min < TimeSpan.Zero || max < min)
            throw new ArgumentException($"sharelora.rejoin: need 0 <= min-backoff <= max-backoff (got {min.TotalSeconds:0.###} s and {max.TotalSeconds:0.###} s)");
        return new RejoinPolicy(true, min, max);
    }

    /// <summary>The wait before attempt <paramref name="attempt"/> (1-based) of a run of consecutive attempts.</summary>
    public TimeSpan DelayBefore(int attempt)
    {
        var delay = MinBackoff;
        for (int i = 1; i < attempt && delay < MaxBackoff; i++) delay += delay;
        return delay < MaxBackoff ? delay : MaxBackoff;
    }
}
