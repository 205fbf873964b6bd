using System.Text;
using System.Text.Json;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Scenarios.Evidence;

namespace ContainmentLab.Scenarios;

/// <summary>
/// Sees everything of a run: events (from the hub), wire lines (as the bridge's <see cref="IWireTap"/>: the bridge's own
/// view, for the transcript and to be held against the runner's <see cref="Wire"/> tap) and actions; keeps what the
/// checks need, writes the transcript, and wakes whoever waits for an event condition.
/// </summary>
internal sealed class RunRecorder : IWireTap, IDisposable
{
    private readonly TimeProvider _time;
    private readonly long _start;
    private readonly TranscriptWriter? _transcript;
    private readonly Lock _lock = new();
    private readonly List<RecordedEvent> _events = [];
    private readonly List<(TimeSpan, string, string)> _toolActivity = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="startTimestamp">The run's start on <paramref name="time"/>, when it began before this recorder (a kill_host host runs on its runner's clock).</param>
    /// <param name="observer">Sees what the recorder and its wire tap see, as it comes (a kill_host host streams it to its runner).</param>
    public RunRecorder(TimeProvider time, string? transcriptPath, long? startTimestamp = null, IRunObserver? observer = null)
    {
        _time = time;
        _start = startTimestamp ?? time.GetTimestamp();
        StartedUtc = time.GetUtcNow() - time.GetElapsedTime(_start);
        _transcript = transcriptPath is null ? null : new TranscriptWriter(transcriptPath);
        Observer = observer;
        Wire = new WireTap(() => Elapsed, _transcript, observer);
    }

    /// <summary>Sees what the recorder sees, as it comes (a kill_host host streams it to its runner).</summary>
    public IRunObserver? Observer { get; }

    public TimeSpan Elapsed => _time.GetElapsedTime(_start);

    /// <summary>The run's start on the wall clock (for placing audit records on the run's timeline).</summary>
    public DateTimeOffset StartedUtc { get; }

    /// <summary>The runner's own byte-level tap of every agent the bridge starts.</summary>
    public WireTap Wire { get; }

    public IReadOnlyList<RecordedEvent> Events
    {
        get
        {
            lock (_lock)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<(TimeSpan At, string SessionId, string ToolCallId)> ToolActivity
    {
        get
        {
            lock (_lock)
            {
                return [.. _toolActivity];
            }
        }
    }

    public void OnEvent(ContainmentEvent containmentEvent)
    {
        var at = Elapsed;
        TaskCompletionSource changed;
        lock (_lock)
        {
            _events.Add(new RecordedEvent(at, containmentEvent));
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        Observer?.OnEvent(at, containmentEvent);
        _transcript?.WriteEvent(at, containmentEvent);
        changed.TrySetResult();
    }

    public void OnAction(TimelineAction action, string? sessionId, TimeSpan at)
    {
        Observer?.OnAction(at, action, sessionId);
        _transcript?.WriteAction(at, action, sessionId);
    }

    public void Received(long lineNumber, ReadOnlySpan<byte> line)
    {
        var at = Elapsed;
        var connection = Wire.OnBridgeRead(lineNumber, line);
        Observer?.OnReceived(at, connection, lineNumber, line);
        _transcript?.WriteLine(at, "in", line);

        // Activity of an agent-side tool (G4): a session/update about a tool call. Cheap pre-check, then parse.
        if (line.IndexOf("tool_call_update"u8) < 0)
        {
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(line.ToArray());
            if (document.RootElement.TryGetProperty("params", out var p)
                && p.TryGetProperty("sessionId", out var session)
                && p.TryGetProperty("update", out var update)
                && update.TryGetProperty("toolCallId", out var id))
            {
                lock (_lock)
                {
                    _toolActivity.Add((at, session.GetString() ?? string.Empty, id.GetString() ?? string.Empty));
                }
            }
        }
        catch (JsonException)
        {
            // A malformed line is the bridge's business (ProtocolViolation), not the recorder's.
        }
    }

    public void Sent(ReadOnlySpan<byte> line)
    {
        var text = line.EndsWith("\n"u8) ? line[..^1] : line;
        var at = Elapsed;
        Observer?.OnSent(at, line);
        _transcript?.WriteLine(at, "out", text);
    }

    /// <summary>Waits until <paramref name="holds"/> is true of the events so far; false when <paramref name="timeout"/> passes first.</summary>
    public async Task<bool> WaitForAsync(Func<IReadOnlyList<RecordedEvent>, bool> holds, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetTimestamp();
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (holds(_events))
                {
                    return true;
                }

                changed = _changed.Task;
            }

            var left = timeout - _time.GetElapsedTime(deadline);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await changed.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Checked once more at the top, then false.
            }
        }
    }

    public void Dispose() => _transcript?.Dispose();

    internal static string Decode(ReadOnlySpan<byte> line) => Encoding.UTF8.GetString(line);
}
