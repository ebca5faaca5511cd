using System.Net.Sockets;
using System.Threading.Channels;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// <see cref="IActivationTransport"/> over one TCP stream per neighbour pair, beside Akka's connection so bulk
/// activations never delay cluster heartbeats. Length-prefixed frames (<see cref="DataPlaneFrames"/>); a bounded send
/// queue and receive credits give flow control. One side opens a <see cref="TcpActivationListener"/> and sends its
/// <see cref="DataPlaneAddress"/> through an actor message; the other calls <see cref="ConnectAsync"/>. With
/// <see cref="TcpTransportOptions.Tls"/> the stream is an <see cref="System.Net.Security.SslStream"/> (mutual TLS,
/// cluster CA only). A frame header announcing more than <see cref="TcpTransportOptions.MaxFrameBytes"/> drops the link.
/// </summary>
public sealed class TcpActivationTransport : IActivationTransport
{
    private readonly Stream _stream;
    private readonly Socket _socket;
    private readonly TcpTransportOptions _options;
    private readonly Channel<(ActivationTag Tag, TensorPayload Payload)> _sendQueue;
    private readonly SemaphoreSlim _credits;
    private readonly TaggedInbox _inbox;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writer;
    private readonly Task _reader;
    private Exception? _failure;
    private int _disposed;

    // stream: the connected stream (network or TLS); it owns the socket.
    internal TcpActivationTransport(Socket socket, Stream stream, string peer, TcpTransportOptions options)
    {
        _socket = socket;
        _stream = stream;
        _options = options;
        Peer = peer;
        _inbox = new TaggedInbox(peer);
        _credits = new SemaphoreSlim(options.ReceiveCredits, options.ReceiveCredits);
        _sendQueue = Channel.CreateBounded<(ActivationTag, TensorPayload)>(
            new BoundedChannelOptions(options.SendQueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _writer = Task.Run(WriteLoopAsync);
        _reader = Task.Run(ReadLoopAsync);
    }

    public string Peer { get; }

    /// <summary>Connects to a neighbour's listener and presents the link token.</summary>
    public static async Task<TcpActivationTransport> ConnectAsync(
        DataPlaneAddress address, TcpTransportOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= TcpTransportOptions.Default;
        options.Validate();
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        Stream? stream = null;
        try
        {
            Configure(socket, options);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ConnectTimeoutMs);
            try
            {
                await socket.ConnectAsync(address.Host, address.Port, timeout.Token).ConfigureAwait(false);
                stream = new NetworkStream(socket, ownsSocket: true);
                if (options.Tls is { } tls)
                    stream = await tls.AuthenticateAsClientAsync(stream, address.Host, address.ToString(), timeout.Token).ConfigureAwait(false);
                await DataPlaneFrames.WriteHandshakeAsync(stream, address.Token, timeout.Token).ConfigureAwait(false);
                var answer = new byte[1];
                await stream.ReadExactlyAsync(answer, timeout.Token).ConfigureAwait(false);
                if (answer[0] != DataPlaneFrames.Accepted)
                    throw new IOException($"data-plane listener at {address} rejected the link");
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new IOException($"data-plane listener at {address} did not answer within {options.ConnectTimeoutMs} ms");
            }
            catch (Exception e) when (e is SocketException or EndOfStreamException or System.Security.Authentication.AuthenticationException)
            {
                throw new IOException($"cannot open the data-plane link to {address}: {e.Message}", e);
            }
            return new TcpActivationTransport(socket, stream, address.ToString(), options);
        }
        catch
        {
            if (stream != null) await stream.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            throw;
        }
    }

    internal static void Configure(Socket socket, TcpTransportOptions options)
    {
        socket.NoDelay = true;
        socket.SendBufferSize = options.SocketBufferBytes;
        socket.ReceiveBufferSize = options.SocketBufferBytes;
        // A neighbour that vanishes without a FIN/RST (host down, cable) is noticed in ~20 s instead of hours.
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 10);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 3);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
    }

    public async ValueTask SendAsync(ActivationTag tag, TensorPayload payload, CancellationToken cancellationToken = default)
    {
        if (_failure != null) throw LinkBroken();
        payload.Validate();
        try
        {
            await _sendQueue.Writer.WriteAsync((tag, payload), cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw _failure != null ? LinkBroken() : new ObjectDisposedException(nameof(TcpActivationTransport));
        }
    }

    public ValueTask<TensorPayload> ReceiveAsync(ActivationTag tag, CancellationToken cancellationToken = default) =>
        _inbox.TakeAsync(tag, cancellationToken);

    private IOException LinkBroken() => new($"data-plane link to {Peer} is broken: {_failure!.Message}", _failure);

    private async Task WriteLoopAsync()
    {
        try
        {
            await foreach (var (tag, payload) in _sendQueue.Reader.ReadAllAsync(_stop.Token).ConfigureAwait(false))
                await DataPlaneFrames.WriteTensorAsync(_stream, tag, payload, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (!_stop.IsCancellationRequested)
        {
            Fail(e);
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var frame = await DataPlaneFrames.ReadTensorAsync(_stream, _options.MaxFrameBytes, Peer, _stop.Token).ConfigureAwait(false);
                if (frame is not { } f)
                {
                    Fail(new EndOfStreamException($"closed by {Peer}"));
                    return;
                }
                // No credit left: stop reading; TCP's window then stops the sender.
                await _credits.WaitAsync(_stop.Token).ConfigureAwait(false);
                _inbox.Put(f.Tag, f.Payload, () => _credits.Release());
            }
        }
        catch (InvalidDataException e) when (!_stop.IsCancellationRequested)
        {
            // Malformed or oversized input from the peer: drop the link (never allocate what it announced) and say why.
            _options.RejectionsOrDefault().Dropped(Peer, e.Message);
            Fail(e);
            try { _socket.Close(); } catch (Exception) { /* already closed */ }
        }
        catch (Exception e) when (!_stop.IsCancellationRequested)
        {
            Fail(e);
        }
    }

    private void Fail(Exception e)
    {
        if (Interlocked.CompareExchange(ref _failure, e, null) != null) return;
        var broken = LinkBroken();
        _inbox.Fail(broken);
        _sendQueue.Writer.TryComplete(broken);
    }

    /// <summary>Sends what is queued (bounded wait), then closes the stream; the neighbour sees a clean end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _sendQueue.Writer.TryComplete();
        await Task.WhenAny(_writer, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
        if (_stream is System.Net.Security.SslStream ssl && _writer.IsCompleted)
        {
            try { await ssl.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false); } // TLS close_notify
            catch (Exception) { /* peer already gone */ }
        }
        try { _socket.Shutdown(SocketShutdown.Send); } catch (Exception) { /* already closed */ }
        _stop.Cancel();
        _inbox.Fail(new ObjectDisposedException(nameof(TcpActivationTransport)));
        await _stream.DisposeAsync().ConfigureAwait(false);
        try { await Task.WhenAll(_writer, _reader).ConfigureAwait(false); } catch (Exception) { /* loops end on close */ }
        _stop.Dispose();
    }
}
