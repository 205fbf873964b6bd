using System.Globalization;
using System.Text;

namespace ContainmentLab.Scenarios.Os;

/// <summary>One read of <c>/proc/PID/stat</c>: the fields the process tree needs.</summary>
/// <param name="StartTime">Clock ticks after boot (field 22): with the pid, the process's identity (pids are reused, start times are not).</param>
internal readonly record struct ProcStat(int Pid, string Name, char State, int ParentPid, int ProcessGroupId, int SessionId, long StartTime)
{
    /// <summary>A zombie (or dying) process has exited: it runs nothing and holds nothing but its pid.</summary>
    public bool Exited => State is 'Z' or 'X' or 'x';
}

/// <summary>
/// Reads the process table from <c>/proc</c> — the OS's own account, used instead of anything the bridge says. Every read
/// answers null (or nothing) for a process that is gone or unreadable; none throws.
/// </summary>
internal static class ProcFs
{
    public static bool Available => OperatingSystem.IsLinux() && Directory.Exists("/proc/self/task");

    public static ProcStat? Stat(int pid)
    {
        if (ReadText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat") is not { } text)
        {
            return null;
        }

        // "pid (comm) state ppid pgrp session …": comm may hold spaces and parentheses, so count fields after the last ')'.
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open || close + 2 >= text.Length)
        {
            return null;
        }

        var fields = text[(close + 2)..].Split(' ');

        // fields[0] is field 3 (state): field N is fields[N - 3].
        return fields.Length >= 20
            && int.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ppid)
            && int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var pgrp)
            && int.TryParse(fields[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var sid)
            && long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            ? new ProcStat(pid, text[(open + 1)..close], fields[0][0], ppid, pgrp, sid, start)
            : null;
    }

    /// <summary>
    /// The pids of <paramref name="pid"/>'s children. The kernel lists a child under the thread that forked it, so every
    /// thread's <c>children</c> file is read (a .NET process starts children from thread-pool threads).
    /// </summary>
    public static IEnumerable<int> Children(int pid)
    {
        string[] tasks;
        try
        {
            tasks = Directory.GetDirectories($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/task");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (var task in tasks)
        {
            if (ReadText(Path.Combine(task, "children")) is not { } text)
            {
                continue;
            }

            foreach (var item in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var child))
                {
                    yield return child;
                }
            }
        }
    }

    /// <summary>The command line with NULs as spaces, or null when unreadable; empty for a kernel thread or a zombie.</summary>
    public static string? CommandLine(int pid)
    {
        try
        {
            var bytes = File.ReadAllBytes($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            return Encoding.UTF8.GetString(bytes).TrimEnd('\0').Replace('\0', ' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The last pid the kernel handed out (the last field of <c>/proc/loadavg</c>), or null. Every fork takes a new pid, so
    /// while it stays the same no process was created anywhere, and a sample can skip looking for new children.
    /// </summary>
    public static int? LastPid()
    {
        var text = ReadText("/proc/loadavg");
        var space = text?.LastIndexOf(' ') ?? -1;
        return space >= 0 && int.TryParse(text.AsSpan(space + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    /// <summary>Still the same process (pid and start time) and not yet exited.</summary>
    public static bool IsAlive(int pid, long startTime) => Stat(pid) is { Exited: false } stat && stat.StartTime == startTime;

    private static string? ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // gone, or another user's: nothing to read
        }
    }
}
