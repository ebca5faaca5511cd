using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using ShareLoRA.Cluster.Security;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// The listening end of one data-plane link: binds a port (0 = any free one), publishes a <see cref="DataPlaneAddress"/>
/// with a fresh random token, and accepts the first connection that presents that token. With TLS configured
/// (<see cref="TcpTransportOptions.Tls"/>) a connection must first complete a mutually authenticated handshake with a
/// certificate from the cluster CA; refusals are logged once per peer host (<see cref="ConnectionRejectionLog"/>).
/// </summary>
public sealed class TcpActivationListener : IDisposable
{
    private readonly Socket _socket;
    private readonly TcpTransportOptions _options;
    private readonly ConnectionRejectionLog _rejections;

    private TcpActivationListener(Socket socket, DataPlaneAddress address, TcpTransportOptions options)
    {
        _socket = socket;
        Address = address;
        _options = options;
        _rejections = options.RejectionsOrDefault();
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

    /// <summary>
    /// Waits for the neighbour; connections that fail TLS, present a wrong token or no handshake within 5 s are
    /// dropped (and logged, rate-limited) while the listener keeps waiting.
    /// </summary>
    public async Task<TcpActivationTransport> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var socket = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            var peer = ConnectionRejectionLog.Normalize(socket.RemoteEndPoint?.ToString() ?? "unknown");
            Stream stream = new NetworkStream(socket, ownsSocket: true);
            try
            {
                TcpActivationTransport.Configure(socket, _options);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                if (_options.Tls is { } tls)
                    stream = await tls.AuthenticateAsServerAsync(stream, peer, _rejections, timeout.Token).ConfigureAwait(false);
                var token = await DataPlaneFrames.ReadHandshakeAsync(stream, timeout.Token).ConfigureAwait(false);
                if (token == Address.Token)
                {
                    await stream.WriteAsync(new[] { DataPlaneFrames.Accepted }, timeout.Token).ConfigureAwait(false);
                    await stream.FlushAsync(timeout.Token).ConfigureAwait(false);
                    return new TcpActivationTransport(socket, stream, peer, _options);
                }
                _rejections.Refused(peer, token == null ? "not a data-plane handshake" : "wrong data-plane link token");
            }
            catch (System.Security.Authentication.AuthenticationException) when (!cancellationToken.IsCancellationRequested)
            {
                // Already logged by the handshake with its reason.
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // A stray or slow connection must not take down the link; wait for the real neighbour.
                _rejections.Refused(peer, e is OperationCanceledException ? "no data-plane handshake within 5 s" : "handshake failed: " + e.Message);
            }
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    public void Dispose() => _socket.Dispose();
}
