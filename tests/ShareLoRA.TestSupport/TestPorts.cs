using System.Net;
using System.Net.Sockets;

namespace ShareLoRA.TestSupport;

/// <summary>
/// Ports for test nodes that are started later by another process (a seed told `--port N`). A port the kernel hands
/// out for port 0 is an ephemeral one, and between the probe and the seed's bind a worker of a parallel test (bound to
/// port 0) can take it. So ports come from below the ephemeral range (Linux 32768-60999), at random, never twice in
/// one test run, and only if a probe bind succeeds now.
/// </summary>
public static class TestPorts
{
    private const int First = 20000, End = 32700;
    private static readonly HashSet<int> Given = [];
    private static readonly Random Pick = new();

    /// <summary>A port on 127.0.0.1 that is free now and was not given out before in this process.</summary>
    public static int Free()
    {
        lock (Given)
        {
            for (int attempt = 0; attempt < 1000; attempt++)
            {
                int port = Pick.Next(First, End);
                if (!Given.Add(port)) continue;
                try
                {
                    using var probe = new TcpListener(IPAddress.Loopback, port);
                    probe.Start();
                    probe.Stop();
                    return port;
                }
                catch (SocketException)
                {
                    // in use by something else: try another
                }
            }
        }
        throw new InvalidOperationException($"no free port in {First}-{End - 1} after 1000 attempts");
    }
}
