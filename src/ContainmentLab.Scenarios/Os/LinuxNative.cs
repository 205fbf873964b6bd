using System.Runtime.InteropServices;

namespace ContainmentLab.Scenarios.Os;

/// <summary>The few Linux calls the OS evidence needs and .NET has no API for.</summary>
internal static partial class LinuxNative
{
    public const int SigKill = 9;
    public const short PollIn = 0x001;
    private const int PrSetChildSubreaper = 36;
    private const int WaitNoHang = 1;

    /// <summary>pidfd_open(2) has the same number on every architecture .NET runs Linux on (the generic table, since 5.3).</summary>
    private const long SysPidfdOpen = 434;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    /// <summary>A descriptor that becomes readable when the process exits; -1 when it is already gone or the kernel lacks pidfd.</summary>
    public static int PidfdOpen(int pid) => OperatingSystem.IsLinux() ? (int)Syscall(SysPidfdOpen, pid, 0) : -1;

    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="fd"/> to become readable; true when it did.</summary>
    public static bool WaitReadable(int fd, int timeoutMs)
    {
        var fds = new PollFd[] { new() { Fd = fd, Events = PollIn } };
        return Poll(fds, 1, timeoutMs) > 0 && (fds[0].Revents & PollIn) != 0;
    }

    /// <summary>Orphans of this process's descendants are reparented to it rather than to init (Linux 3.4+).</summary>
    public static bool BecomeChildSubreaper() => OperatingSystem.IsLinux() && Prctl(PrSetChildSubreaper, 1, 0, 0, 0) == 0;

    /// <summary>Reaps <paramref name="pid"/> if it is an exited child of ours; true when it was reaped.</summary>
    public static bool TryReap(int pid) => WaitPid(pid, out _, WaitNoHang) == pid;

    public static bool Kill(int pid, int signal) => pid > 1 && SysKill(pid, signal) == 0;

    public static void Close(int fd)
    {
        if (fd >= 0)
        {
            _ = SysClose(fd);
        }
    }

    public static bool Dup2(int from, int to) => SysDup2(from, to) >= 0;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, int pid, uint flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll([In, Out] PollFd[] fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int SysClose(int fd);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int SysDup2(int from, int to);
}
