using System.Runtime.InteropServices;

namespace ShareLoRA.Training.Checkpoints;

/// <summary>
/// fsync for files and directories. A checkpoint is committed by a rename; without flushing the files first, a power
/// loss can leave a renamed folder whose files are empty, and without flushing the parent folder the rename itself can
/// be lost. .NET exposes fsync only for files (FileStream.Flush(true)), so folders go through libc on Linux and macOS.
/// </summary>
internal static class FileDurability
{
    /// <summary>Flushes a closed file's data to disk (fsync on a fresh descriptor flushes the inode's dirty pages).</summary>
    public static void FlushFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Flushes a folder's entries (creations, renames). Best effort: some filesystems refuse fsync on a folder, and
    /// Windows has no equivalent; the data files themselves were already flushed.
    /// </summary>
    public static void FlushDirectory(string path)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        int fd = open(path, 0 /* O_RDONLY */);
        if (fd < 0) return;
        try { fsync(fd); }
        finally { close(fd); }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc")]
    private static extern int close(int fd);
}
