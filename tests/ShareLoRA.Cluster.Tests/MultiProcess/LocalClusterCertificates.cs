namespace ShareLoRA.Cluster.Tests.MultiProcess;

/// <summary>
/// A throw-away cluster CA and node certificates in a test folder, made through the CLI (`certs init`, `certs issue`)
/// exactly as an operator would, so multi-process tests exercise the documented TLS workflow.
/// </summary>
internal sealed class LocalClusterCertificates
{
    private static readonly TimeSpan CliBound = TimeSpan.FromSeconds(60);
    private readonly Dictionary<string, string> _issued = [];

    public LocalClusterCertificates(string folder)
    {
        Folder = folder;
        Run("certs", "init", "--out", folder);
        Authority = Path.Combine(folder, "ca.crt");
    }

    public string Folder { get; }

    /// <summary>The cluster CA certificate (PEM), the only trust anchor of every node.</summary>
    public string Authority { get; }

    /// <summary>The .pfx of <paramref name="name"/>, issued on first request.</summary>
    public string Issue(string name)
    {
        lock (_issued)
        {
            if (!_issued.TryGetValue(name, out var pfx))
            {
                Run("certs", "issue", "--ca", Folder, "--name", name, "--out", Folder);
                pfx = Path.Combine(Folder, name + ".pfx");
                if (!File.Exists(pfx)) throw new FileNotFoundException($"certs issue did not write {pfx}", pfx);
                _issued[name] = pfx;
            }
            return pfx;
        }
    }

    private static void Run(params string[] args)
    {
        var (exit, stdout, stderr) = CliProcess.Run(Directory.GetCurrentDirectory(), CliBound, args);
        if (exit != 0) throw new InvalidOperationException($"sharelora {string.Join(' ', args)} exited {exit}:\n{stdout}\n{stderr}");
    }
}
