using System.Runtime.InteropServices;

namespace ContainmentLab.Bridge;

/// <summary>POSIX signals .NET has no API for (Process.Kill only sends SIGKILL).</summary>
internal static partial class NativeSignals
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false when the process is gone or it failed.</summary>
    public static bool Send(int pid, int signal)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return false;
        }

        return SysKill(pid, signal) == 0;
    }

    /// <summary>
    /// Sends <paramref name="signal"/> to every process of the group <paramref name="pgid"/>; false when the group is
    /// empty or it failed. Refuses pgid 0 and 1: <c>kill(0)</c> is our own group and <c>kill(-1)</c> every process we may signal.
    /// </summary>
    public static bool SendGroup(int pgid, int signal)
    {
        if (pgid <= 1 || (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()))
        {
            return false;
        }

        return SysKill(-pgid, signal) == 0;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
