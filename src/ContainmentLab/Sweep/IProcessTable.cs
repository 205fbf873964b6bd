namespace ContainmentLab.Sweep;

/// <summary>
/// The operating system's process table, as the orphan sweep needs it. Every read answers null for a process that is
/// gone or that we may not read (another user's): the sweep skips those, it never guesses.
/// Linux is <see cref="LinuxProcessTable"/>; how macOS and Windows plug in is in the README.
/// </summary>
public interface IProcessTable
{
    /// <summary>This process's pid: the sweep never signals it.</summary>
    int CurrentProcessId { get; }

    /// <summary>Identifies this boot (Linux: <c>/proc/sys/kernel/random/boot_id</c>); null if unknown. Start times only compare within one boot.</summary>
    string? BootId { get; }

    /// <summary>A snapshot of the pids that exist now.</summary>
    IReadOnlyList<int> EnumerateProcessIds();

    /// <summary>The process's start time, or null when it is gone, a zombie, or unreadable.</summary>
    long? GetStartTime(int pid);

    /// <summary>The parent's pid, or null when the process is gone or unreadable.</summary>
    int? GetParentProcessId(int pid);

    /// <summary>
    /// Whether the process's environment holds exactly <c>name=value</c>; null when it cannot be read (gone, another
    /// user's). On Linux this is the environment the process was started with, inherited by everything it starts.
    /// </summary>
    bool? HasEnvironmentEntry(int pid, string name, string value);

    /// <summary>The command line, for reports; null when unreadable.</summary>
    string? GetCommandLine(int pid);

    /// <summary>Sends the signal; false when the process is gone or the signal could not be sent.</summary>
    bool Signal(int pid, ProcessSignal signal);
}
