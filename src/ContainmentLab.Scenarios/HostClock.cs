namespace ContainmentLab.Scenarios;

/// <summary>
/// The clock a kill_host runner replays its host's stream on: it reads what it was last set to, the moment the host
/// recorded the thing being replayed, so the runner's recorder stamps each event and wire line with the host's time,
/// not with the time it came through the pipe. Timestamps are the system's (the monotonic clock both processes share).
/// </summary>
internal sealed class HostClock(long start) : TimeProvider
{
    private long _now = start;

    public override long TimestampFrequency => System.TimestampFrequency;

    public override long GetTimestamp() => Volatile.Read(ref _now);

    /// <summary>Sets the clock to <paramref name="start"/> + <paramref name="at"/> (time since the run's start).</summary>
    public void Set(long start, TimeSpan at) =>
        Volatile.Write(ref _now, start + (long)(at.Ticks * (double)TimestampFrequency / TimeSpan.TicksPerSecond));
}
