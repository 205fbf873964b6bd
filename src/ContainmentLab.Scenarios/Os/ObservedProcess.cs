namespace ContainmentLab.Scenarios.Os;

/// <summary>What a process was to the run, as far as the runner knows it.</summary>
internal enum ProcessRole
{
    /// <summary>Started by the run's bridge as its agent (the pid came from the bridge or its <c>AgentStarted</c>; the rest is the OS's).</summary>
    Agent,

    /// <summary>Found below another process of the run in the OS's process table.</summary>
    Descendant,

    /// <summary>The host process of a <c>kill_host</c> fixture.</summary>
    Host,

    /// <summary>The runner's subreaper above the host: part of the runner, not of the run; it ends after the judging.</summary>
    Reaper,
}

/// <summary>One process of a run's tree as the OS showed it: identity (pid + start time), lineage, and when it was seen.</summary>
/// <param name="StartTime">Field 22 of <c>/proc/PID/stat</c>: clock ticks after boot.</param>
/// <param name="ParentPid">The parent when it was last seen alive (1, or the reaper, once orphaned).</param>
/// <param name="FirstParentPid">The parent it was found under.</param>
/// <param name="GoneAt">The first sample that found it exited or gone; null while it lives.</param>
/// <param name="ExitedAt">When it exited, from the process itself (pidfd), for agents; null when not watched.</param>
internal sealed record ObservedProcess(
    int Pid,
    long StartTime,
    ProcessRole Role,
    int FirstParentPid,
    int ParentPid,
    int ProcessGroupId,
    int SessionId,
    string CommandLine,
    TimeSpan FirstSeen,
    TimeSpan LastSeenAlive,
    TimeSpan? GoneAt,
    TimeSpan? ExitedAt)
{
    public override string ToString() =>
        $"pid {Pid} `{Short(CommandLine)}` ({Role.ToString().ToLowerInvariant()}, first seen at {TranscriptWriter.Seconds(FirstSeen)}s under pid {FirstParentPid}; "
        + $"parent {ParentPid}, group {ProcessGroupId}, session {SessionId} when last seen alive at {TranscriptWriter.Seconds(LastSeenAlive)}s)";

    /// <summary>A command line for one line of a report: whitespace runs as one space, at most 160 characters.</summary>
    internal static string Short(string commandLine)
    {
        var flat = string.Join(' ', commandLine.Split((char[])[' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries));
        return flat.Length <= 160 ? flat : flat[..159] + "…";
    }
}

/// <summary>An agent's death as the OS reported it.</summary>
/// <param name="Source"><c>pidfd</c>: the moment the process exited; <c>proc</c>: the first sample that found it gone (an upper bound, at most one sampling interval late).</param>
internal sealed record AgentDeath(int Pid, string CommandLine, TimeSpan At, string Source)
{
    public override string ToString() => $"agent pid {Pid} (`{ObservedProcess.Short(CommandLine)}`) exit at {TranscriptWriter.Seconds(At)}s ({Source})";
}

/// <summary>
/// The OS's process truth for one run (DESIGN.md §5): every process of the run's tree the runner sampled, the agents'
/// exit times from the processes themselves, and what was still alive when the run ended.
/// </summary>
internal sealed record OsEvidence
{
    /// <summary>Why there is no OS evidence (no /proc on this platform); null when there is.</summary>
    public string? Unavailable { get; init; }

    public IReadOnlyList<ObservedProcess> Processes { get; init; } = [];

    public IReadOnlyList<AgentDeath> AgentDeaths { get; init; } = [];

    /// <summary>From here on deaths are the runner's doing (it stopped the bridge, or killed the host): G5 judges deaths before.</summary>
    public TimeSpan RunEndedAt { get; init; }

    /// <summary>Processes of the tree (the reaper aside) still alive <see cref="SettleBound"/> after the run ended (after the sweep, for kill_host).</summary>
    public IReadOnlyList<ObservedProcess> Leftovers { get; init; } = [];

    /// <summary>How long the runner waited, after the run ended, for the tree to be gone before it called the rest leftovers.</summary>
    public TimeSpan SettleBound { get; init; }

    /// <summary>Processes the runner's own clean-up (after judging) could not make go: they are still on the machine.</summary>
    public IReadOnlyList<ObservedProcess> CleanupFailures { get; init; } = [];

    public static OsEvidence None(string why) => new() { Unavailable = why };
}
