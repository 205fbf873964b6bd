namespace ContainmentLab.Scenarios.Os;

/// <summary>
/// The moment a process exits, from the process itself: a pidfd (pidfd_open(2), Linux 5.3+) becomes readable when it
/// does, whoever its parent is and whoever reaps it. A thread of its own blocks in poll(2), so neither the thread pool
/// nor the bridge's own view of the agent delays or shapes the reading.
/// </summary>
internal sealed class PidExitWatch : IDisposable
{
    /// <summary>How often the blocked thread looks up to see whether it was disposed (not the exit's resolution: poll returns at once on exit).</summary>
    private const int WakeMs = 200;

    private readonly int _fd;
    private readonly Func<TimeSpan> _clock;
    private readonly Action<TimeSpan> _onExit;
    private readonly Thread _thread;
    private volatile bool _disposed;

    private PidExitWatch(int fd, Func<TimeSpan> clock, Action<TimeSpan> onExit, int pid)
    {
        _fd = fd;
        _clock = clock;
        _onExit = onExit;
        _thread = new Thread(Run) { IsBackground = true, Name = $"exit watch {pid}" };
        _thread.Start();
    }

    /// <summary>
    /// Watches <paramref name="pid"/> if it is still the process that started at <paramref name="startTime"/>; null when it
    /// is already reaped (or the pid was reused) or pidfd is unavailable — then the sampler's view is all there is.
    /// </summary>
    public static PidExitWatch? TryStart(int pid, long startTime, Func<TimeSpan> clock, Action<TimeSpan> onExit)
    {
        var fd = LinuxNative.PidfdOpen(pid);
        if (fd < 0)
        {
            return null;
        }

        // The pid was read before the open: check it still names the same process (a zombie still shows its start time).
        if (ProcFs.Stat(pid) is { } stat && stat.StartTime != startTime)
        {
            LinuxNative.Close(fd);
            return null;
        }

        return new PidExitWatch(fd, clock, onExit, pid);
    }

    private void Run()
    {
        try
        {
            while (!_disposed)
            {
                if (LinuxNative.WaitReadable(_fd, WakeMs))
                {
                    _onExit(_clock());
                    return;
                }
            }
        }
        finally
        {
            LinuxNative.Close(_fd);
        }
    }

    public void Dispose() => _disposed = true;
}
