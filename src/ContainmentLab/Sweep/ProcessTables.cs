namespace ContainmentLab.Sweep;

/// <summary>The process table of the platform we run on.</summary>
public static class ProcessTables
{
    /// <summary>The table for this OS, or null where none is implemented yet (macOS, Windows: see the README). Without one, no lease is written and no sweep runs.</summary>
    public static IProcessTable? ForCurrentPlatform() => OperatingSystem.IsLinux() ? new LinuxProcessTable() : null;
}
