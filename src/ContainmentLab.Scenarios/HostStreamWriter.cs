using System.Text.Json;
using System.Threading.Channels;
using ContainmentLab.Events;

namespace ContainmentLab.Scenarios;

/// <summary>
/// The host side of the <see cref="HostRecord"/> stream: sees the host's run as its recorder does and writes it to
/// stdout from one writer task, in order, so a slow reader never blocks the bridge's loops (the host must behave as it
/// would without a runner watching). <see cref="KillRequestedAsync"/> is the <c>kill_host</c> action: the state goes
/// out, flushed, then the host waits to be SIGKILLed.
/// </summary>
internal sealed class HostStreamWriter : IRunObserver, IAsyncDisposable
{
    private readonly TextWriter _output;
    private readonly Fixture _fixture;
    private readonly Channel<(string Line, TaskCompletionSource? Written)> _lines =
        Channel.CreateUnbounded<(string, TaskCompletionSource?)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly Task _writer;

    public HostStreamWriter(TextWriter output, Fixture fixture)
    {
        _output = output;
        _fixture = fixture;
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

    public void OnReceived(TimeSpan at, long lineNumber, ReadOnlySpan<byte> line) => Enqueue(new HostRecord { K = "in", T = at.Ticks, N = lineNumber, B = line.ToArray() });

    public void OnSent(TimeSpan at, ReadOnlySpan<byte> line) => Enqueue(new HostRecord { K = "out", T = at.Ticks, B = line.ToArray() });

    /// <summary>Sends the state and returns once it is written and flushed.</summary>
    public async Task SendStateAsync(HostState state, CancellationToken cancellationToken = default)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _lines.Writer.TryWrite((HostStream.Encode(new HostRecord { K = "state", State = state }), written));
        await written.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The <c>kill_host</c> action: the runner is told (with the state up to now) and SIGKILLs this process; this never returns, but for cancellation.</summary>
    public async Task KillRequestedAsync(RunLog snapshot, IEnumerable<ExpectationFailure> problems, CancellationToken cancellationToken)
    {
        await SendStateAsync(HostState.From(HostState.Kill, snapshot, problems), cancellationToken).ConfigureAwait(false);
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
