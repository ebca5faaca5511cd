using System.Buffers.Binary;
using System.Text;
using ShareLoRA.Cluster.Wire;

namespace ShareLoRA.Cluster.DataPlane;

/// <summary>
/// Byte layout of the TCP data plane, little-endian. Handshake (connector to listener): "SLDP", version u8,
/// token length u16, token UTF-8; the listener answers one byte 1 (accepted). Then frames in both directions:
/// kind u8 (1 = tensor), step i64, micro-batch i32, direction u8, dtype u8 (0 f32, 1 bf16), rank u8,
/// rank x i64 dims, byte count i64, bytes.
/// </summary>
internal static class DataPlaneFrames
{
    private static readonly byte[] Magic = "SLDP"u8.ToArray();
    private const byte Version = 1;
    private const byte KindTensor = 1;
    private const int FixedHeader = 16; // kind 1 + step 8 + mb 4 + dir 1 + dtype 1 + rank 1
    private const int MaxRank = 16;
    public const byte Accepted = 1;

    public static async Task WriteHandshakeAsync(Stream stream, string token, CancellationToken ct)
    {
        var tokenBytes = Encoding.UTF8.GetBytes(token);
        var buffer = new byte[4 + 1 + 2 + tokenBytes.Length];
        Magic.CopyTo(buffer, 0);
        buffer[4] = Version;
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(5), (ushort)tokenBytes.Length);
        tokenBytes.CopyTo(buffer, 7);
        await stream.WriteAsync(buffer, ct).ConfigureAwait(false);
        await stream.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Reads a handshake and returns its token; null when the bytes are not a data-plane handshake.</summary>
    public static async Task<string?> ReadHandshakeAsync(Stream stream, CancellationToken ct)
    {
        var head = new byte[7];
        await stream.ReadExactlyAsync(head, ct).ConfigureAwait(false);
        if (!head.AsSpan(0, 4).SequenceEqual(Magic) || head[4] != Version) return null;
        var tokenBytes = new byte[BinaryPrimitives.ReadUInt16LittleEndian(head.AsSpan(5))];
        await stream.ReadExactlyAsync(tokenBytes, ct).ConfigureAwait(false);
        return Encoding.UTF8.GetString(tokenBytes);
    }

    public static async Task WriteTensorAsync(Stream stream, ActivationTag tag, TensorPayload payload, CancellationToken ct)
    {
        var rank = payload.Shape.Length;
        if (rank > MaxRank) throw new ArgumentException($"data plane: tensor rank {rank} exceeds {MaxRank}");
        var header = new byte[FixedHeader + 8 * rank + 8];
        header[0] = KindTensor;
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(1), tag.Step);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(9), tag.MicroBatch);
        header[13] = (byte)tag.Direction;
        header[14] = payload.DType switch
        {
            TensorPayload.F32 => 0,
            TensorPayload.Bf16 => 1,
            _ => throw new InvalidDataException($"tensor payload: dtype must be \"f32\" or \"bf16\" (got \"{payload.DType}\")"),
        };
        header[15] = (byte)rank;
        for (var i = 0; i < rank; i++)
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(FixedHeader + 8 * i), payload.Shape[i]);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(FixedHeader + 8 * rank), payload.Bytes.LongLength);
        await stream.WriteAsync(header, ct).ConfigureAwait(false);
        await stream.WriteAsync(payload.Bytes, ct).ConfigureAwait(false);
    }

    /// <summary>Reads one tensor frame; null on a clean end of stream between frames.</summary>
    public static async Task<(ActivationTag Tag, TensorPayload Payload)?> ReadTensorAsync(
        Stream stream, long maxFrameBytes, string peer, CancellationToken ct)
    {
        var head = new byte[FixedHeader];
        var got = await stream.ReadAtLeastAsync(head, FixedHeader, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (got == 0) return null;
        if (got < FixedHeader) throw new EndOfStreamException($"data-plane link to {peer}: stream ended inside a frame header");
        if (head[0] != KindTensor) throw new InvalidDataException($"data-plane link to {peer}: unknown frame kind {head[0]}");
        var tag = new ActivationTag(
            BinaryPrimitives.ReadInt64LittleEndian(head.AsSpan(1)),
            BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(9)),
            (ActivationDirection)head[13]);
        var dtype = head[14] switch
        {
            0 => TensorPayload.F32,
            1 => TensorPayload.Bf16,
            var d => throw new InvalidDataException($"data-plane link to {peer}: unknown dtype code {d}"),
        };
        int rank = head[15];
        if (rank > MaxRank) throw new InvalidDataException($"data-plane link to {peer}: rank {rank} exceeds {MaxRank}");
        var rest = new byte[8 * rank + 8];
        await stream.ReadExactlyAsync(rest, ct).ConfigureAwait(false);
        var shape = new long[rank];
        for (var i = 0; i < rank; i++) shape[i] = BinaryPrimitives.ReadInt64LittleEndian(rest.AsSpan(8 * i));
        var length = BinaryPrimitives.ReadInt64LittleEndian(rest.AsSpan(8 * rank));
        if (length < 0 || length > maxFrameBytes)
            throw new InvalidDataException($"data-plane link to {peer}: frame of {length} bytes exceeds the limit of {maxFrameBytes}");
        var bytes = new byte[length];
        await stream.ReadExactlyAsync(bytes, ct).ConfigureAwait(false);
        var payload = new TensorPayload(shape, dtype, bytes);
        payload.Validate();
        return (tag, payload);
    }
}
