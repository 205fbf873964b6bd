using System.Text.Json;
using System.Threading.Channels;
using ContainmentLab.Bridge;
using ContainmentLab.Events;
using ContainmentLab.Scenarios.Evidence;

namespace ContainmentLab.Scenarios;

/// <summary>
/// The host side of the <see cref="HostRecord"/> stream: sees the host's run as its recorder does and writes it to
/// stdout from one writer task, in order, so a slow reader never blocks the bridge's loops (the host must behave as it
/// would without a runner watching). <see cref="KillRequestedAsync"/> is the <c>kill_host</c> action: the state goes
/// out, flushed, then the host waits to be SIGKILLed.
/// </summary>
/// <remarks>
/// What it costs is bounded as the tap bounds what it keeps: a line goes out as its kept head (at most
/// <see cref="TapStream.HeadBytes"/>) with its length and hash, a call as its times and byte count; raw bytes only within
/// <c>rawBudget</c> per run (for the runner's transcript). The bridge's own lines (<c>in</c> / <c>out</c>) go whole, as
/// the bridge has them: an agent line over the reader's limit is handed on empty.
/// </remarks>
internal sealed class HostStreamWriter : IRunObserver, IAsyncDisposable
{
    private readonly TextWriter _output;
    private readonly Fixture _fixture;
    private readonly long _rawBudget;
    private long _rawSent;
    private readonly Channel<(string Line, TaskCompletionSource? Written)> _lines =
        Channel.CreateUnbounded<(string, TaskCompletionSource?)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly Task _writer;

    /// <param name="rawBudget">How many raw bytes of the tap's calls go out per run (the runner's transcript wants them); past it only lengths.</param>
    public HostStreamWriter(TextWriter output, Fixture fixture, long rawBudget = 0)
    {
        _output = output;
        _fixture = fixture;
        _rawBudget = rawBudget;
        _writer = Task.Run(WriteAsync);
    }

    public void Hello(int pid) => Enqueue(new HostRecord { K = "hello", Pid = pid });

    public void OnEvent(TimeSpan at, ContainmentEvent containmentEvent)
    {
        HostRecord record;
        try
        {
            record = HostStream.Event(at, containmentEvent);
        }
        catch (Exception ex) when (ex is NotSupportedException or JsonException)
        {
            // Never thrown into the bridge's publish: the runner reports an event it could not be sent.
            record = new HostRecord { K = "unencodable", T = at.Ticks, Type = $"{containmentEvent.Name}: {ex.Message}" };
        }

        Enqueue(record);
    }

    public void OnAction(TimeSpan at, TimelineAction action, string? sessionId) =>
        Enqueue(new HostRecord { K = "action", T = at.Ticks, I = HostState.IndexOf(_fixture, action), Session = sessionId });

    public void OnReceived(TimeSpan at, int? connection, long lineNumber, ReadOnlySpan<byte> line) =>
        Enqueue(new HostRecord { K = "in", T = at.Ticks, C = connection, N = lineNumber, B = line.ToArray() });

    public void OnSent(TimeSpan at, ReadOnlySpan<byte> line) => Enqueue(new HostRecord { K = "out", T = at.Ticks, B = line.ToArray() });

    public void OnTapOpened(int connection, TimeSpan at, string? accountPath) =>
        Enqueue(new HostRecord { K = "tap-open", T = at.Ticks, C = connection, Path = accountPath });

    public void OnTapProcessId(int connection, int? processId) => Enqueue(new HostRecord { K = "tap-pid", C = connection, Pid = processId });

    public void OnCallBegan(int connection, TapDirection direction, int call, TimeSpan at) =>
        Enqueue(new HostRecord { K = "tap-begin", T = at.Ticks, C = connection, D = Name(direction), I = call });

    public void OnCallWritten(int connection, TapDirection direction, int call, TimeSpan at, ReadOnlySpan<byte> bytes) =>
        Enqueue(new HostRecord { K = "tap-written", T = at.Ticks, C = connection, D = Name(direction), I = call, Len = bytes.Length, B = Raw(bytes) });

    public void OnCallEnded(int connection, TapDirection direction, int call, TimeSpan at, ReadOnlySpan<byte> read, bool failed) =>
        Enqueue(new HostRecord { K = "tap-end", T = at.Ticks, C = connection, D = Name(direction), I = call, Len = read.Length, Failed = failed ? true : null, B = Raw(read) });

    public void OnLine(TapLine line, ReadOnlySpan<byte> head) => Enqueue(new HostRecord
    {
        K = "tap-line",
        T = line.At.Ticks,
        T0 = line.StartedAt.Ticks,
        C = line.Connection,
        D = Name(line.Direction),
        N = line.Number,
        Len = line.Length,
        Hash = line.Hash,
        Complete = line.Complete,
        I = line.Chunk,
        B = head.ToArray(),
    });

    public void OnEndOfStream(int connection, TapDirection direction, TimeSpan at) =>
        Enqueue(new HostRecord { K = "tap-eof", T = at.Ticks, C = connection, D = Name(direction) });

    public void OnGaveUp(int connection, TimeSpan at, string how) => Enqueue(new HostRecord { K = "tap-stop", T = at.Ticks, C = connection, How = how });

    public void OnExited(int connection, TimeSpan at, AgentExit? exit) => Enqueue(new HostRecord { K = "tap-exit", T = at.Ticks, C = connection, Exit = exit });

    internal static string Name(TapDirection direction) => direction == TapDirection.FromAgent ? "agent" : "bridge";

    /// <summary>A call's raw bytes while the run's raw budget lasts; null past it (or when empty).</summary>
    private byte[]? Raw(ReadOnlySpan<byte> bytes) =>
        bytes.IsEmpty || _rawBudget <= 0 || Interlocked.Add(ref _rawSent, bytes.Length) > _rawBudget ? null : bytes.ToArray();

    /// <summary>Sends the state and returns once it is written and flushed.</summary>
    public async Task SendStateAsync(HostState state, CancellationToken cancellationToken = default)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _lines.Writer.TryWrite((HostStream.Encode(new HostRecord { K = "state", State = state }), written));
        await written.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The <c>kill_host</c> action: the runner is told (with the state up to now, taken at <paramref name="at"/>) and
    /// SIGKILLs this process; this never returns, but for cancellation. Every record made before the state is ahead of
    /// it in the stream; what the host sees after it may or may not reach the runner before the kill.
    /// </summary>
    public async Task KillRequestedAsync(RunLog snapshot, IEnumerable<ExpectationFailure> problems, TimeSpan at, CancellationToken cancellationToken)
    {
        await SendStateAsync(HostState.From(HostState.Kill, snapshot, problems, at), cancellationToken).ConfigureAwait(false);
        await Task.Delay(Timeout.InfiniteTimeSpan, TimeProvider.System, cancellationToken).ConfigureAwait(false);
    }

    private void Enqueue(HostRecord record) => _lines.Writer.TryWrite((HostStream.Encode(record), null));

    private async Task WriteAsync()
    {
        // A runner that went away (a broken pipe) must not leave a state send waiting: lines are then dropped.
        var broken = false;
        var reader = _lines.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var pending = new List<TaskCompletionSource>();
            while (reader.TryRead(out var item))
            {
                broken = broken || !await TryAsync(() => _output.WriteLineAsync(item.Line)).ConfigureAwait(false);
                if (item.Written is { } written)
                {
                    pending.Add(written);
                }
            }

            broken = broken || !await TryAsync(() => _output.FlushAsync()).ConfigureAwait(false);
            foreach (var written in pending)
            {
                written.TrySetResult();
            }
        }
    }

    private static async Task<bool> TryAsync(Func<Task> write)
    {
        try
        {
            await write().ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }
}
