using static TorchSharp.torch;

namespace ShareLoRA.Model.IO;

/// <summary>
/// Moves raw bytes between streams and contiguous CPU tensors. Works in chunks because a tensor's byte span is
/// limited to 2 GiB (an 8B model's embedding in fp32 is larger).
/// </summary>
internal static class TensorBytes
{
    private const long ChunkBytes = 1L << 28;

    /// <summary>Fills <paramref name="flat"/> (1-D, contiguous, CPU) from the stream's current position.</summary>
    public static void ReadInto(Stream stream, Tensor flat)
    {
        long n = flat.shape[0];
        if (n == 0) return;
        long per = Math.Max(1, ChunkBytes / flat.ElementSize);
        for (long start = 0; start < n; start += per)
        {
            using var chunk = flat.narrow(0, start, Math.Min(per, n - start));
            stream.ReadExactly(chunk.bytes);
        }
    }

    /// <summary>Writes a 1-D contiguous CPU tensor's bytes to the stream.</summary>
    public static void WriteFrom(Stream stream, Tensor flat)
    {
        long n = flat.shape[0];
        if (n == 0) return;
        long per = Math.Max(1, ChunkBytes / flat.ElementSize);
        for (long start = 0; start < n; start += per)
        {
            using var chunk = flat.narrow(0, start, Math.Min(per, n - start));
            stream.Write(chunk.bytes);
        }
    }
}
