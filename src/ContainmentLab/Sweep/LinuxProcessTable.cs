using System.Globalization;
using System.Runtime.Versioning;
using System.Text;
using ContainmentLab.Bridge;

namespace ContainmentLab.Sweep;

/// <summary>The process table read from <c>/proc</c>; signals through kill(2).</summary>
[SupportedOSPlatform("linux")]
public sealed class LinuxProcessTable : IProcessTable
{
    private readonly string _proc;

    /// <param name="procRoot">Where procfs is mounted (a different root only for tests).</param>
    public LinuxProcessTable(string procRoot = "/proc")
    {
        _proc = procRoot;
        BootId = ReadText(Path.Combine(_proc, "sys", "kernel", "random", "boot_id"))?.Trim();
    }

    public int CurrentProcessId => Environment.ProcessId;

    public string? BootId { get; }

    public IReadOnlyList<int> EnumerateProcessIds()
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories(_proc))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    public long? GetStartTime(int pid)
    {
        // A zombie has exited: it is nothing to kill and can be nobody's host.
        return Stat(pid) is { } stat && stat.State != 'Z' ? stat.StartTime : null;
    }

    public int? GetParentProcessId(int pid) => Stat(pid)?.ParentPid;

    public bool? HasEnvironmentEntry(int pid, string name, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        if (ReadBytes(Path.Combine(_proc, pid.ToString(CultureInfo.InvariantCulture), "environ")) is not { } environ)
        {
            return null;
        }

        // NUL-separated NAME=value entries; a match must be a whole entry, not a prefix or a substring of another.
        var entry = Encoding.UTF8.GetBytes($"{name}={value}");
        foreach (var range in environ.AsSpan().Split((byte)0))
        {
            if (environ.AsSpan(range).SequenceEqual(entry))
            {
                return true;
            }
        }

        return false;
    }

    public string? GetCommandLine(int pid)
    {
        var bytes = ReadBytes(Path.Combine(_proc, pid.ToString(CultureInfo.InvariantCulture), "cmdline"));
        return bytes is null ? null : Encoding.UTF8.GetString(bytes).TrimEnd('\0').Replace('\0', ' ');
    }

    public bool Signal(int pid, ProcessSignal signal) =>
        NativeSignals.Send(pid, signal == ProcessSignal.Kill ? NativeSignals.SigKill : NativeSignals.SigTerm);

    private (char State, int ParentPid, long StartTime)? Stat(int pid)
    {
        if (ReadText(Path.Combine(_proc, pid.ToString(CultureInfo.InvariantCulture), "stat")) is not { } stat)
        {
            return null;
        }

        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted after the last ')'.
        var close = stat.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        var fields = stat[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);

        // fields[0] is field 3 (state), so field N is fields[N - 3]: ppid is field 4, starttime field 22.
        if (fields.Length < 20
            || !int.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var ppid)
            || !long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
        {
            return null;
        }

        return (fields[0][0], ppid, start);
    }

    private static string? ReadText(string path) => ReadBytes(path) is { } bytes ? Encoding.UTF8.GetString(bytes) : null;

    private static byte[]? ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (IOException)
        {
            return null; // the process is gone
        }
        catch (UnauthorizedAccessException)
        {
            return null; // another user's process: not ours to read, so not ours to kill
        }
    }
}
