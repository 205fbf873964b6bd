using System.Collections.Concurrent;
using System.Globalization;
using ContainmentLab.Dispatch;
using ContainmentLab.Events;

namespace ContainmentLab.Bridge;

/// <summary>
/// One deadline per running tool call, on the injected <see cref="TimeProvider"/>. Activity only moves a timestamp;
/// the call's single timer, when it fires, re-computes the deadline and re-arms itself if the call was active
/// meanwhile. Per call and per session: one call's activity never keeps another alive, and when a call ends its timer
/// is gone (no heartbeat outlives its tool — reference/fazm-bridge.md, hang 9).
/// </summary>
public sealed class Watchdog : IToolWatch
{
    private readonly WatchdogOptions _options;
    private readonly TimeProvider _time;
    private readonly EventHub _events;
    private readonly Action<string, string> _onExpired;

    /// <summary>Every watch not yet ended or expired, so that <see cref="EndAll"/> can end them.</summary>
    private readonly ConcurrentDictionary<Watch, byte> _live = new();
    private int _active;
    private int _ended;

    /// <param name="onExpired">Runs after a call expired (session id, reason): the bridge interrupts that session.</param>
    public Watchdog(WatchdogOptions options, TimeProvider timeProvider, EventHub events, Action<string, string> onExpired)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(onExpired);
        _options = options;
        _time = timeProvider;
        _events = events;
        _onExpired = onExpired;
    }

    /// <summary>Calls being watched right now (each with one timer).</summary>
    public int ActiveCount => Volatile.Read(ref _active);

    /// <summary>
    /// Ends every watch still running and starts no more: the bridge calls it when it stops, so no timer outlives it,
    /// whatever path its tool took (a guarantee that holds even if an owner forgot one).
    /// </summary>
    public void EndAll()
    {
        Volatile.Write(ref _ended, 1);
        foreach (var watch in _live.Keys)
        {
            watch.Dispose();
        }
    }

    public IToolWatchHandle Start(string sessionId, string toolCallId, string toolName, Action? cancelTool)
    {
        if (!_options.Enabled || Volatile.Read(ref _ended) != 0)
        {
            return NoWatch.Instance;
        }

        return new Watch(this, sessionId, toolCallId, toolName, cancelTool, _options.TimeoutFor(toolName));
    }

    private sealed class Watch : IToolWatchHandle
    {
        private readonly Watchdog _owner;
        private readonly string _sessionId;
        private readonly string _toolCallId;
        private readonly string _toolName;
        private readonly Action? _cancelTool;
        private readonly TimeSpan _timeout;
        private readonly long _start;
        private readonly ITimer _timer;
        private long _lastActivity;
        private int _state; // 0 watching, 1 ended, 2 expired
        private string? _expiredReason;

        public Watch(Watchdog owner, string sessionId, string toolCallId, string toolName, Action? cancelTool, TimeSpan timeout)
        {
            _owner = owner;
            _sessionId = sessionId;
            _toolCallId = toolCallId;
            _toolName = toolName;
            _cancelTool = cancelTool;
            _timeout = timeout;
            _start = _lastActivity = owner._time.GetTimestamp();
            _timer = owner._time.CreateTimer(static s => ((Watch)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

            // Counted and registered before the timer is armed: it may fire at once (a clock that jumps on another thread).
            Interlocked.Increment(ref owner._active);
            owner._live.TryAdd(this, 0);
            _timer.Change(DueIn(_start), Timeout.InfiniteTimeSpan);
        }

        public string? ExpiredReason => Volatile.Read(ref _expiredReason);

        public void ReportActivity() => Volatile.Write(ref _lastActivity, _owner._time.GetTimestamp());

        public void Dispose()
        {
            if (Interlocked.CompareExchange(ref _state, 1, 0) == 0)
            {
                _timer.Dispose();
                _owner._live.TryRemove(this, out _);
                Interlocked.Decrement(ref _owner._active);
            }
        }

        /// <summary>Time from <paramref name="now"/> to the deadline (zero or less: it has passed).</summary>
        private TimeSpan DueIn(long now)
        {
            var elapsed = _owner._time.GetElapsedTime(_start, now);
            var sinceActivity = _owner._time.GetElapsedTime(Volatile.Read(ref _lastActivity), now);
            var due = TimeSpan.FromTicks(Math.Max((_timeout - elapsed).Ticks, (_owner._options.ActivityWindow - sinceActivity).Ticks));
            if (_owner._options.MaxToolDuration is { } cap)
            {
                due = TimeSpan.FromTicks(Math.Min(due.Ticks, (cap - elapsed).Ticks));
            }

            return due;
        }

        private void OnTimer()
        {
            var now = _owner._time.GetTimestamp();
            var due = DueIn(now);
            if (due > TimeSpan.Zero)
            {
                if (Volatile.Read(ref _state) == 0)
                {
                    _timer.Change(due, Timeout.InfiniteTimeSpan);
                }

                return;
            }

            if (Interlocked.CompareExchange(ref _state, 2, 0) != 0)
            {
                return; // ended (or expired) on another thread meanwhile: exactly one outcome
            }

            _timer.Dispose();
            _owner._live.TryRemove(this, out _);
            Interlocked.Decrement(ref _owner._active);
            var duration = _owner._time.GetElapsedTime(_start, now);
            var silent = _owner._time.GetElapsedTime(Volatile.Read(ref _lastActivity), now);
            var reason = _owner._options.MaxToolDuration is { } cap && duration >= cap && silent < _owner._options.ActivityWindow
                ? $"ran {Seconds(duration)} s, over the hard cap MaxToolDuration {Seconds(cap)} s"
                : $"no activity for {Seconds(silent)} s (ToolTimeout {Seconds(_timeout)} s, ActivityWindow {Seconds(_owner._options.ActivityWindow)} s)";
            Volatile.Write(ref _expiredReason, reason);
            _owner._events.Publish(new ToolHangCanceled(_owner._time.GetUtcNow(), _sessionId, _toolCallId, _toolName, duration.TotalSeconds, reason));

            // Interrupt first, then cancel the tool: the gate is closed and session/cancel queued before the tool's error
            // answer can reach the agent, so the agent cannot slip another call in between.
            _owner._onExpired(_sessionId, $"watchdog: {_toolName} ({_toolCallId}) {reason}");
            try
            {
                _cancelTool?.Invoke();
            }
            catch (ObjectDisposedException)
            {
                // The call ended while we expired it: its token is gone, and so is the work.
            }
        }

        private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
    }

    private sealed class NoWatch : IToolWatchHandle
    {
        public static NoWatch Instance { get; } = new();

        public string? ExpiredReason => null;

        public void ReportActivity()
        {
        }

        public void Dispose()
        {
        }
    }
}
