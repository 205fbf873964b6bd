using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace ContainmentLab.IO;

/// <summary>
/// statx(2) and open(2) for what .NET does not offer: a file's owner and type without following a link, and an open that
/// neither follows a link nor blocks on a FIFO. statx has one layout on every Linux architecture (stat does not).
/// </summary>
[SupportedOSPlatform("linux")]
internal static partial class NativeFiles
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;
    private const int ENoEnt = 2;
    private const int ENotDir = 20;
    private const int ELoop = 40;

    /// <summary>The status of <paramref name="path"/> itself (a link is not followed); null when nothing is there.</summary>
    public static FileFacts? Lstat(string path)
    {
        if (SysStatx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, out var buffer) == 0)
        {
            return Facts(buffer);
        }

        var error = Marshal.GetLastPInvokeError();
        return error is ENoEnt or ENotDir ? null : throw new IOException($"cannot stat '{path}': {Marshal.GetPInvokeErrorMessage(error)}");
    }

    /// <summary>The status of an open file.</summary>
    public static FileFacts Fstat(SafeFileHandle handle, string path)
    {
        ArgumentNullException.ThrowIfNull(handle);
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (SysStatx((int)handle.DangerousGetHandle(), string.Empty, AtEmptyPath, StatxBasicStats, out var buffer) == 0)
            {
                return Facts(buffer);
            }

            throw new IOException($"cannot stat the open '{path}': {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Opens for reading without following a link in the last component and without waiting for a FIFO's writer.</summary>
    public static SafeFileHandle OpenReadNoFollowNonBlocking(string path)
    {
        var fd = SysOpen(path, OReadOnlyNoFollow | ONonBlock | OCloExec);
        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        var error = Marshal.GetLastPInvokeError();
        throw error switch
        {
            ENoEnt => new FileNotFoundException($"no such file: '{path}'", path),
            ELoop => new FileRefusedException("a symbolic link (not followed)"),
            _ => new IOException($"cannot open '{path}': {Marshal.GetPInvokeErrorMessage(error)}"),
        };
    }

    /// <summary>O_RDONLY | O_NOFOLLOW: O_NOFOLLOW is 0100000 on ARM, 0400000 on the other architectures .NET runs on.</summary>
    private static int OReadOnlyNoFollow => RuntimeInformation.ProcessArchitecture is Architecture.Arm or Architecture.Arm64 ? 0x8000 : 0x20000;

    private static FileFacts Facts(in Statx buffer)
    {
        var kind = (buffer.Mode & 0xF000) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0xA000 => FileKind.SymbolicLink,
            0x1000 => FileKind.Fifo,
            0xC000 => FileKind.Socket,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            _ => FileKind.Unknown,
        };
        var device = ((ulong)buffer.DevMajor << 32) | buffer.DevMinor;
        return new FileFacts(kind, buffer.Uid, (UnixFileMode)(buffer.Mode & 0xFFF), (long)Math.Min(buffer.Size, long.MaxValue), device, buffer.Inode);
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SysStatx(int dirfd, string path, int flags, uint mask, out Statx buffer);

    // open(2) is variadic; the mode argument is read only with O_CREAT or O_TMPFILE, which are never passed here.
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SysOpen(string path, int flags);

    /// <summary>struct statx (linux/stat.h): 256 bytes, the same on every architecture. Only the fields read are declared.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Statx
    {
        [FieldOffset(20)]
        public uint Uid;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(32)]
        public ulong Inode;

        [FieldOffset(40)]
        public ulong Size;

        [FieldOffset(136)]
        public uint DevMajor;

        [FieldOffset(140)]
        public uint DevMinor;
    }
}
