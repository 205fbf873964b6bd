namespace ContainmentLab.Sweep;

/// <summary>
/// A process as the kernel knows it: a pid alone is reused, a pid plus its start time is not (within one boot).
/// </summary>
/// <param name="Pid">The process id.</param>
/// <param name="StartTime">Opaque, platform-defined start time (Linux: clock ticks after boot, <c>/proc/PID/stat</c> field 22).</param>
public readonly record struct ProcessIdentity(int Pid, long StartTime)
{
    public override string ToString() => $"pid {Pid} (start {StartTime})";
}
