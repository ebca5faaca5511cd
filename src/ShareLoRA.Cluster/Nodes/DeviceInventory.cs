using System.Globalization;
using TorchSharp;

namespace ShareLoRA.Cluster.Nodes;

/// <summary>The devices a node can compute on and their free memory, as far as the platform tells.</summary>
public static class DeviceInventory
{
    /// <summary>
    /// "cpu" (free memory from /proc/meminfo MemAvailable) and, when <paramref name="probeCuda"/>, every "cuda:N"
    /// TorchSharp sees (memory unknown: TorchSharp exposes no cudaMemGetInfo). Probing CUDA loads libtorch, so CPU
    /// workers skip it.
    /// </summary>
    public static NodeProtocol.DeviceInfo[] Detect(bool probeCuda)
    {
        var (available, total) = ReadHostMemory();
        var devices = new List<NodeProtocol.DeviceInfo> { new("cpu", available, total) };
        if (probeCuda && torch.cuda.is_available())
            for (var i = 0; i < torch.cuda.device_count(); i++)
                devices.Add(new NodeProtocol.DeviceInfo($"cuda:{i}", null, null));
        return devices.ToArray();
    }

    /// <summary>Throws a one-line <see cref="ArgumentException"/> when --device names a device this host lacks.</summary>
    public static void EnsureAvailable(string device)
    {
        if (device == "cpu") return;
        var index = int.Parse(device.AsSpan(5), CultureInfo.InvariantCulture);
        if (!torch.cuda.is_available())
            throw new ArgumentException($"--device {device}: CUDA is not available on this host (no GPU, or a CPU build of libtorch)");
        var count = torch.cuda.device_count();
        if (index >= count)
            throw new ArgumentException($"--device {device}: this host has {count} CUDA device(s) (cuda:0..cuda:{count - 1})");
    }

    private static (long? Available, long? Total) ReadHostMemory()
    {
        long? available = null, total = null;
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal)) available = KiB(line);
                else if (line.StartsWith("MemTotal:", StringComparison.Ordinal)) total = KiB(line);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        total ??= GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return (available, total);

        static long KiB(string line) =>
            long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
