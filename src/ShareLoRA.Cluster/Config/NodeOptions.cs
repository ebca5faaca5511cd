namespace ShareLoRA.Cluster.Config;

/// <summary>
/// How to start one node. Host/Port null mean "as configured" (base.hocon 127.0.0.1; seed port 4053, worker port 0 =
/// any free port). Seed is required for workers. ConfigFile is a HOCON file layered over the embedded configuration.
/// Device is "cpu" or "cuda:N"; Threads 0 keeps TorchSharp's default. CertificateFile (.pfx) and CaFile (cluster CA
/// .crt) turn on mutually authenticated TLS (its password comes from SHARELORA_CERT_PASSWORD, never from here);
/// Insecure allows a non-loopback address without TLS. StateDirectory holds a seed's coordinator database
/// (SQLite file coordinator.db; null: LogsDirectory/state); PostgreSQL by --config instead (docs/PERSISTENCE.md).
/// Rejoin (workers): whether a worker whose membership ended starts a new ActorSystem and joins the seed again
/// (null: as configured, sharelora.rejoin.enabled in worker.hocon, on; false: --no-rejoin).
/// </summary>
public sealed record NodeOptions(
    NodeRole Role,
    string? Host = null,
    int? Port = null,
    HostPort? Seed = null,
    string? ConfigFile = null,
    string Device = "cpu",
    int Threads = 0,
    string LogsDirectory = "logs",
    string? CertificateFile = null,
    string? CaFile = null,
    bool Insecure = false,
    string? StateDirectory = null,
    bool? Rejoin = null)
{
    /// <summary>Where a seed keeps its coordinator database file: --state, or the folder "state" inside the logs folder
    /// (so separate local clusters with separate --logs never share a job history).</summary>
    public string EffectiveStateDirectory => StateDirectory ?? Path.Combine(LogsDirectory, "state");

    /// <summary>Throws a one-line <see cref="ArgumentException"/> naming the bad option.</summary>
    public void Validate()
    {
        if (Role == NodeRole.Worker && Seed == null)
            throw new ArgumentException("--seed is required for a worker (HOST:PORT of the seed node)");
        if (Port is < 0 or > 65535) throw new ArgumentException($"--port must be in 0..65535 (got {Port})");
        if (Threads < 0) throw new ArgumentException($"--threads must be >= 0 (got {Threads})");
        if (Device != "cpu" && !(Device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(Device.AsSpan(5), out var index) && index >= 0))
            throw new ArgumentException($"--device must be cpu or cuda:N (got '{Device}')");
        if (ConfigFile != null && !File.Exists(ConfigFile))
            throw new FileNotFoundException($"--config: file not found: {ConfigFile}");
        if ((CertificateFile == null) != (CaFile == null))
            throw new ArgumentException("--cert and --ca go together: the node's certificate (.pfx) and the cluster CA (.crt) that every peer must chain to");
        if (Insecure && CertificateFile != null)
            throw new ArgumentException("--insecure contradicts --cert: give one or the other");
    }
}
