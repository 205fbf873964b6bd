using System.Diagnostics;
using ContainmentLab.Sweep;

namespace ContainmentLab.Tests.Support;

/// <summary>Files a hostile neighbour can plant: FIFOs, and files or directories owned by another user.</summary>
internal static class SpecialFiles
{
    /// <summary>The uid of "nobody": another user, for files we make theirs.</summary>
    public const int Nobody = 65534;

    public static void MakeFifo(string path) => Run("mkfifo", path);

    /// <summary>Makes <paramref name="path"/> (not a link's target) another user's; the test is skipped unless we are root.</summary>
    public static void GiveTo(string path, int uid = Nobody)
    {
        Assume.That(NativeUser.EffectiveUserId(), Is.Zero, "making a file another user's needs root (chown)");
        Run("chown", "-h", $"{uid}", path);
    }

    /// <summary>If a read is still blocked in open(2) of <paramref name="fifo"/>, a writer that opens and closes it ends it (bounded by timeout(1)).</summary>
    public static void UnblockReaders(string fifo, Task read)
    {
        if (!read.IsCompleted)
        {
            Run("timeout", "5", "sh", "-c", $": > '{fifo}'");
        }
    }

    private static void Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { UseShellExecute = false })!;
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero.Or.EqualTo(124), $"{command} {string.Join(' ', arguments)}");
    }
}
