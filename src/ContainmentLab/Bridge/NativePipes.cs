using System.IO.Pipes;
using System.Runtime.InteropServices;

namespace ContainmentLab.Bridge;

/// <summary>Whether a pipe holds bytes right now, without reading them: poll(2) with a zero timeout.</summary>
internal static partial class NativePipes
{
    private const short PollIn = 0x1;
    private const short PollErr = 0x8;
    private const short PollHup = 0x10;
    private const int Eintr = 4;

    /// <summary>
    /// <see cref="PipeContents.Readable"/> when a read would return at once (bytes are there, or every writer is gone),
    /// <see cref="PipeContents.Empty"/> when it would wait, <see cref="PipeContents.Unknown"/> where poll(2) is not
    /// available (Windows) or failed.
    /// </summary>
    public static PipeContents Probe(PipeStream pipe)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return PipeContents.Unknown;
        }

        var handle = pipe.SafePipeHandle;
        var added = false;
        try
        {
            // Held for the call: a stream disposed meanwhile must not let the fd number be reused under our poll.
            handle.DangerousAddRef(ref added);
            var fds = new PollFd { Fd = (int)handle.DangerousGetHandle(), Events = PollIn };
            int result;
            do
            {
                result = Poll(ref fds, 1, 0);
            }
            while (result < 0 && Marshal.GetLastPInvokeError() == Eintr);

            return result switch
            {
                < 0 => PipeContents.Unknown,
                0 => PipeContents.Empty,
                _ when (fds.Revents & (PollIn | PollHup | PollErr)) != 0 => PipeContents.Readable,
                _ => PipeContents.Unknown,
            };
        }
        catch (ObjectDisposedException)
        {
            return PipeContents.Unknown;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeout);
}

/// <summary>What <see cref="NativePipes.Probe"/> found in a pipe.</summary>
internal enum PipeContents
{
    Unknown,
    Empty,
    Readable,
}
