using System.Diagnostics;

namespace ContainmentLab.Scenarios.Evidence;

/// <summary>
/// A <see cref="TimeProvider"/> that keeps account of every timer created on it and whether it is armed (due to fire):
/// the evidence for "no timer outlives its tool" (G4), independent of the watchdog's own counter. A timer is armed from
/// a <see cref="ITimer.Change"/> (or creation) with a finite due time until it fires (one-shot), is changed to
/// <see cref="Timeout.InfiniteTimeSpan"/>, or is disposed. Each timer is named by its owner: the type whose callback it
/// runs, or, for a callback of the runtime's own (Task.Delay, WaitAsync), the first ContainmentLab frame that created it.
/// </summary>
internal sealed class CountingTimeProvider(TimeProvider inner) : TimeProvider
{
    private readonly Lock _lock = new();
    private readonly HashSet<CountedTimer> _armed = [];
    private int _created;

    public TimeProvider Inner { get; } = inner;

    public int Created => Volatile.Read(ref _created);

    public override DateTimeOffset GetUtcNow() => Inner.GetUtcNow();

    public override long GetTimestamp() => Inner.GetTimestamp();

    public override long TimestampFrequency => Inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Inner.LocalTimeZone;

    /// <summary>The owners of the timers armed right now, one entry per timer.</summary>
    public IReadOnlyList<string> Armed()
    {
        lock (_lock)
        {
            return [.. _armed.Select(t => t.Owner).Order(StringComparer.Ordinal)];
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        Interlocked.Increment(ref _created);
        var timer = new CountedTimer(this, OwnerOf(callback), callback, state);

        // Created disarmed and armed after: a timer due at once may fire before CreateTimer returns.
        timer.Attach(Inner.CreateTimer(static s => ((CountedTimer)s!).Fire(), timer, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        timer.Change(dueTime, period);
        return timer;
    }

    private void SetArmed(CountedTimer timer, bool armed)
    {
        lock (_lock)
        {
            if (armed)
            {
                _armed.Add(timer);
            }
            else
            {
                _armed.Remove(timer);
            }
        }
    }

    /// <summary>The type behind a callback, past compiler-generated closures; for the runtime's own callbacks, who asked.</summary>
    internal static string OwnerOf(TimerCallback callback)
    {
        var type = Declared(callback.Method.DeclaringType);
        if (type?.FullName is { } name && name.StartsWith("ContainmentLab.", StringComparison.Ordinal))
        {
            return name;
        }

        foreach (var frame in new StackTrace(2, fNeedFileInfo: false).GetFrames())
        {
            var caller = Declared(frame.GetMethod()?.DeclaringType);
            if (caller?.FullName is { } full && full.StartsWith("ContainmentLab.", StringComparison.Ordinal) && caller != typeof(CountingTimeProvider))
            {
                return full;
            }
        }

        return type?.FullName ?? "unknown";
    }

    private static Type? Declared(Type? type)
    {
        while (type is not null && type.Name.StartsWith('<') && type.DeclaringType is not null)
        {
            type = type.DeclaringType;
        }

        return type;
    }

    private sealed class CountedTimer(CountingTimeProvider owner, string name, TimerCallback callback, object? state) : ITimer
    {
        private ITimer? _inner;
        private volatile bool _periodic;
        private int _disposed;

        public string Owner { get; } = name;

        public void Attach(ITimer timer) => _inner = timer;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return false;
            }

            _periodic = period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero;
            owner.SetArmed(this, dueTime != Timeout.InfiniteTimeSpan);
            return _inner!.Change(dueTime, period);
        }

        public void Fire()
        {
            if (!_periodic)
            {
                // Disarmed before the callback runs: a callback that re-arms its timer (the watchdog's) arms it again.
                owner.SetArmed(this, false);
            }

            callback(state);
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.SetArmed(this, false);
                _inner?.Dispose();
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
