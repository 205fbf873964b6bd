using System.Globalization;

namespace ContainmentLab.IO;

/// <summary>
/// Reads files that someone else may have planted: only a regular file is opened (checked with lstat before the open, so
/// a device is never opened and a FIFO never blocks the open; checked again on the open file, so a swap in between is
/// caught), a symbolic link in the last component is never followed, and no more than a limit is read.
/// </summary>
internal static class RegularFile
{
    /// <summary>
    /// The whole content of <paramref name="path"/>, at most <paramref name="maxBytes"/> bytes; with
    /// <paramref name="requiredOwner"/>, only a file that user owns. Throws <see cref="FileNotFoundException"/> when nothing
    /// is there and <see cref="FileRefusedException"/> (its message says why, without the path) for anything else.
    /// </summary>
    public static byte[] ReadAllBytes(string path, int maxBytes, uint? requiredOwner = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        if (!OperatingSystem.IsLinux())
        {
            return ReadPortable(path, maxBytes);
        }

        var before = NativeFiles.Lstat(path) ?? throw new FileNotFoundException($"no such file: '{path}'", path);
        Check(before, maxBytes, requiredOwner);
        using var handle = NativeFiles.OpenReadNoFollowNonBlocking(path);
        var opened = NativeFiles.Fstat(handle, path);
        if (opened.Device != before.Device || opened.Inode != before.Inode)
        {
            throw new FileRefusedException("replaced by another file while it was being opened");
        }

        Check(opened, maxBytes, requiredOwner);
        return ReadBounded(handle, opened.Size, maxBytes);
    }

    /// <summary>Refuses what is not a regular file of the required owner within the limit.</summary>
    public static void Check(FileFacts facts, int maxBytes, uint? requiredOwner)
    {
        if (facts.Kind != FileKind.Regular)
        {
            throw new FileRefusedException($"{facts.KindText}, not a regular file");
        }

        if (requiredOwner is { } owner && facts.OwnerId != owner)
        {
            throw new FileRefusedException(string.Create(CultureInfo.InvariantCulture, $"owned by uid {facts.OwnerId}, not by us (uid {owner})"));
        }

        if (facts.Size > maxBytes)
        {
            throw new FileRefusedException(OverLimit(facts.Size, maxBytes));
        }
    }

    private static string OverLimit(long size, int maxBytes) =>
        string.Create(CultureInfo.InvariantCulture, $"{size} bytes, over the limit of {maxBytes} bytes");

    /// <summary>Reads at most <paramref name="maxBytes"/> + 1 bytes: a file that grew past the limit after its size was read is refused too.</summary>
    private static byte[] ReadBounded(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long size, int maxBytes)
    {
        var buffer = new byte[(int)Math.Min(size, maxBytes) + 1];
        var total = 0;
        while (true)
        {
            if (total == buffer.Length)
            {
                if (total > maxBytes)
                {
                    throw new FileRefusedException($"grew while it was read: more than {maxBytes} bytes, over the limit");
                }

                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1L, buffer.Length * 2L));
            }

            var read = RandomAccess.Read(handle, buffer.AsSpan(total), total);
            if (read == 0)
            {
                return buffer[..total];
            }

            total += read;
        }
    }

    /// <summary>Where there is no statx (macOS, Windows): links and directories refused, the size bounded; a FIFO is not detected.</summary>
    private static byte[] ReadPortable(string path, int maxBytes)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw Directory.Exists(path) ? new FileRefusedException("a directory, not a regular file") : new FileNotFoundException($"no such file: '{path}'", path);
        }

        if (info.LinkTarget is not null)
        {
            throw new FileRefusedException("a symbolic link (not followed)");
        }

        if (info.Length > maxBytes)
        {
            throw new FileRefusedException(OverLimit(info.Length, maxBytes));
        }

        using var handle = File.OpenHandle(path);
        return ReadBounded(handle, info.Length, maxBytes);
    }
}
