using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// The listening end of one data-plane link: binds a port (0 = any free one), publishes a <see cref="DataPlaneAddress"/>
/// with a fresh random token, and accepts the first connection that presents that token.
/// </summary>
public sealed class TcpActivationListener : IDisposable
{
    private readonly Socket _socket;
    private readonly TcpTransportOptions _options;

    private TcpActivationListener(Socket socket, DataPlaneAddress address, TcpTransportOptions options)
    {
        _socket = socket;
        Address = address;
        _options = options;
    }

    /// <summary>The address to send to the neighbour (in an actor message).</summary>
    public DataPlaneAddress Address { get; }

    /// <summary>
    /// Binds <paramref name="bindHost"/>:<paramref name="port"/>; <paramref name="advertiseHost"/> is the host the
    /// neighbour should dial (defaults to the bind host; give it when binding 0.0.0.0).
    /// </summary>
    public static TcpActivationListener Start(
        string bindHost = "127.0.0.1", int port = 0, string? advertiseHost = null, TcpTransportOptions? options = null)
    {
        options ??= TcpTransportOptions.Default;
        options.Validate();
        var ip = IPAddress.TryParse(bindHost, out var parsed) ? parsed : Dns.GetHostAddresses(bindHost).First();
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(4);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new IOException($"data plane: cannot listen on {bindHost}:{port}: {e.Message}", e);
        }
        var bound = (IPEndPoint)socket.LocalEndPoint!;
        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        return new TcpActivationListener(socket, new DataPlaneAddress(advertiseHost ?? bindHost, bound.Port, token), options);
    }

    /// <summary>Waits for the neighbour; connections with a wrong token or no handshake within 5 s are dropped.</summary>
    public async Task<TcpActivationTransport> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var socket = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                TcpActivationTransport.Configure(socket, _options);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                var stream = new NetworkStream(socket, ownsSocket: false);
                var token = await DataPlaneFrames.ReadHandshakeAsync(stream, timeout.Token).ConfigureAwait(false);
                if (token == Address.Token)
                {
                    await stream.WriteAsync(new[] { DataPlaneFrames.Accepted }, timeout.Token).ConfigureAwait(false);
                    return new TcpActivationTransport(socket, socket.RemoteEndPoint?.ToString() ?? "peer", _options);
                }
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // A stray or slow connection must not take down the link; wait for the real neighbour.
            }
            socket.Dispose();
        }
    }

    public void Dispose() => _socket.Dispose();
}
