using System.Net;
using System.Net.Sockets;

namespace ShareLoRA.Cluster.Hosting;

/// <summary>
/// Checks that no process listens on host:port before Akka binds. Needed because Akka.Remote sets ReuseAddress on
/// Linux, which .NET maps to SO_REUSEADDR + SO_REUSEPORT: a second seed on a busy port would bind "successfully"
/// and share the port with the first (two clusters behind one address). The probe sets only SO_REUSEADDR, so a
/// port left in TIME_WAIT by a node that just died stays usable while a live listener is detected.
/// </summary>
internal static class ListenPortProbe
{
    public static void EnsureFree(string host, int port)
    {
        if (port == 0 || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(host, out var ip) ? [ip] : Dns.GetHostAddresses(host);
        }
        catch (SocketException e)
        {
            throw new NodeStartException($"cannot listen on {host}:{port}: host name does not resolve ({e.Message})", e);
        }
        foreach (var address in addresses)
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            // SOL_SOCKET / SO_REUSEADDR: 1 / 2 on Linux, 0xffff / 4 on macOS.
            var (level, name) = OperatingSystem.IsLinux() ? (1, 2) : (0xffff, 4);
            socket.SetRawSocketOption(level, name, BitConverter.GetBytes(1));
            try
            {
                socket.Bind(new IPEndPoint(address, port));
                socket.Listen(1);
            }
            catch (SocketException e)
            {
                var why = e.SocketErrorCode == SocketError.AddressAlreadyInUse
                    ? "address already in use (another node or program listens there; choose another --port)"
                    : e.SocketErrorCode == SocketError.AddressNotAvailable
                        ? "this machine has no such address (give --host one of its own addresses)"
                        : e.Message;
                throw new NodeStartException($"cannot listen on {host}:{port}: {why}", e);
            }
        }
    }
}
