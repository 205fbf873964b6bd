using System.Globalization;

namespace ContainmentLab.Tests.Support;

/// <summary>The process table as /proc shows it: who is in a process group, and whether they are dead.</summary>
internal static class ProcessGroups
{
    internal readonly record struct Stat(char State, int Pgid, int Sid);

    /// <summary>Fields 3, 5 and 6 of <c>/proc/PID/stat</c>; null when the process is gone.</summary>
    public static Stat? ProcStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }

        // The command name (field 2) may hold spaces and parentheses: the fields after it start at the last ')'.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return new Stat(fields[0][0], int.Parse(fields[2], CultureInfo.InvariantCulture), int.Parse(fields[3], CultureInfo.InvariantCulture));
    }

    /// <summary>Every process whose pgid is <paramref name="pgid"/>, zombies included.</summary>
    public static int[] GroupMembers(int pgid) =>
    [
        .. Directory.EnumerateDirectories("/proc")
            .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
            .Where(pid => pid > 0 && ProcStat(pid)?.Pgid == pgid),
    ];

    /// <summary>
    /// Dead = no /proc entry, or a zombie. A terminal's leader is the host's child and .NET reaps it, so it must vanish.
    /// An orphaned grandchild is reparented to pid 1, and a pid 1 that does not reap (this sandbox's init does not)
    /// leaves it a zombie for ever: it runs nothing and holds nothing but its pid.
    /// </summary>
    public static bool IsDead(int pid) => ProcStat(pid) is not { } stat || stat.State is 'Z' or 'X';

    public static bool IsAlive(int pid) => !IsDead(pid);

    /// <summary>The leader's /proc entry is gone and every process of the group is dead (including <paramref name="knownMembers"/>).</summary>
    public static async Task AssertGroupGoneAsync(int pgid, IReadOnlyCollection<int>? knownMembers = null)
    {
        await Until.TrueAsync(() => ProcStat(pgid) is null, $"leader {pgid} reaped (/proc/{pgid} gone)");
        await Until.TrueAsync(() => GroupMembers(pgid).All(IsDead), $"every process of group {pgid} dead");
        foreach (var pid in knownMembers ?? [])
        {
            // Waited for, not checked once: a member that left the group (setsid) is not covered by the wait above,
            // and a SIGKILLed process is still in its exit (state R) for a moment before it becomes a zombie.
            await Until.TrueAsync(() => IsDead(pid), $"group member {pid} dead (it may have left the group)");
        }
    }

    public static Task UntilHasAsync(int pgid, int count) =>
        Until.TrueAsync(() => GroupMembers(pgid).Count(IsAlive) >= count, $"group {pgid} has {count} live processes");
}
